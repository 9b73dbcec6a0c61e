"""
A stand-in for the Docker Engine API on a unix socket, as far as `docker info`
asks it: GET/HEAD /_ping and GET /vX.Y/info, with dockerd's headers. The real
docker client (the machine's) talks to it. CgroupDriver is what dockerd picks:
exec-opts native.cgroupdriver=… in /etc/docker/daemon.json, else systemd on
cgroup v2 and cgroupfs on v1. Usage: python3 engine.py /var/run/docker.sock
"""
import json, os, socketserver, sys
from http.server import BaseHTTPRequestHandler

SOCKET = sys.argv[1]

def driver():
    # dockerd's choice: exec-opts native.cgroupdriver in daemon.json, else systemd on cgroup v2, cgroupfs on v1.
    try:
        with open("/etc/docker/daemon.json") as f:
            for opt in json.load(f).get("exec-opts", []):
                if opt.startswith("native.cgroupdriver="):
                    return opt.split("=", 1)[1]
    except FileNotFoundError:
        pass
    return "systemd" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "cgroupfs"

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def address_string(self):
        return "unix"
    def log_message(self, *args):
        pass
    def reply(self, status, body, kind="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Api-Version", "1.45")
        self.send_header("Docker-Experimental", "false")
        self.send_header("Ostype", "linux")
        self.send_header("Server", "Docker/26.1.4 (linux)")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
    def do_HEAD(self):
        self.do_GET()
    def do_GET(self):
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            return self.reply(200, "OK", "text/plain; charset=utf-8")
        if path.endswith("/info"):
            cgroups = "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"
            return self.reply(200, json.dumps({"ID": "standin", "ServerVersion": "26.1.4", "CgroupDriver": driver(), "CgroupVersion": cgroups, "OperatingSystem": "test host", "OSType": "linux", "Name": os.uname().nodename}))
        self.reply(404, json.dumps({"message": "page not found"}))

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

if os.path.exists(SOCKET):
    os.unlink(SOCKET)
Server(SOCKET, Handler).serve_forever()
