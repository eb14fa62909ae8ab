/* JSON form of a check result, shared by the control socket and reports. */
#ifndef RESULTJSON_H
#define RESULTJSON_H

#include <jansson.h>

#include "result.h"

/* {"state":"OK","summary":...,"long_text":...,"perfdata":[...],
 *  "when":epoch seconds (real), "duration_ms":..., "forecast":{...} when
 *  r->has_forecast (docs/protocol.md)}. New reference. */
json_t	*resultjson_encode(const struct result *r, int with_detail);

#endif
