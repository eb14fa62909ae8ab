# Makes a test CA and server certificates in directory $1 with the openssl
# CLI: server.pem (127.0.0.1 and localhost), other-ca.pem (an unrelated CA),
# wronghost.pem (for "portal.invalid" only), expired.pem (already expired).
set -eu
d=$1
cd "$d"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -days 2 -subj /CN=agentd-test-ca 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other-ca 2>/dev/null
mk() {	# name, SAN, days
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
	printf 'subjectAltName=%s\n' "$2" > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -out "$1.pem" -days "$3" -extfile "$1.ext" 2>/dev/null
}
mk server "IP:127.0.0.1,DNS:localhost" 2
mk wronghost "DNS:portal.invalid" 2
# Valid for no time at all: expired by the time anyone connects.
mk expired "IP:127.0.0.1,DNS:localhost" 0
sleep 1
