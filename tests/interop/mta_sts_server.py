"""An HTTPS server for MTA-STS policy files, for the interop tests: serves
/.well-known/mta-sts.txt as text/plain, the policy chosen by the Host header (SNI and
certificate cover every name), 404 for anything else; logs each request to stderr.

Usage: mta_sts_server.py PORT CERT KEY HOST=POLICY_FILE...
"""
import http.server
import ssl
import sys

port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
policies = {}
for arg in sys.argv[4:]:
    host, path = arg.split("=", 1)
    with open(path, encoding="utf-8") as f:
        policies[host.lower()] = f.read().replace("\n", "\r\n").encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        host = self.headers.get("Host", "").split(":")[0].lower()
        body = policies.get(host)
        if self.path != "/.well-known/mta-sts.txt" or body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("mta-sts-server: %s %s\n" % (self.headers.get("Host", "-"), fmt % args))
        sys.stderr.flush()


server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening", flush=True)
server.serve_forever()
