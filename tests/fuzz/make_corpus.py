#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/: small, hand-made inputs that reach
past each parser's first checks (valid documents, archives and frames, and a few near misses).
Deterministic: run it again and git shows no change. Usage: tests/fuzz/make_corpus.py"""
import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import tarfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "corpus")
corpus = {}


def add(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    corpus.setdefault(target, {})[name] = data


def sha(data):
    return hashlib.sha256(data).hexdigest()


def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    """entries: (name, type, content-or-linkname, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, kind, payload, mode in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            info.mode = mode
            info.type = kind
            data = None
            if kind == tarfile.REGTYPE:
                data = payload
                info.size = len(payload)
            elif kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = payload
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def gz(data):
    return gzip.compress(data, mtime=0)


# ---- manifest_yaml ----------------------------------------------------------------------------
add("manifest_yaml", "pod", """apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    ports: [{containerPort: 80, name: http}]
    resources:
      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: "0.5", memory: 128Mi}
    readinessProbe:
      httpGet: {path: /, port: http}
      periodSeconds: 5
    env:
    - {name: A, value: "1"}
    - name: B
      valueFrom: {configMapKeyRef: {name: cfg, key: b}}
    volumeMounts: [{name: data, mountPath: /data, readOnly: true}]
  volumes:
  - name: data
    emptyDir: {medium: Memory, sizeLimit: 16Mi}
""")
add("manifest_yaml", "downward-projected", """apiVersion: v1
kind: Pod
metadata: {name: info, labels: {app: info}, annotations: {a: "x\\ny"}}
spec:
  activeDeadlineSeconds: 30
  containers:
  - name: app
    image: busybox
    env: [{name: P, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    volumeMounts:
    - {name: info, mountPath: /info, subPathExpr: "$(P)"}
    - {name: all, mountPath: /all}
  volumes:
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: mem, resourceFieldRef: {containerName: app, resource: limits.memory, divisor: 1Mi}}
  - name: all
    projected:
      sources:
      - configMap: {name: cfg, items: [{key: a, path: a}]}
      - secret: {name: s, optional: true}
      - serviceAccountToken: {path: token}
  - name: claim
    persistentVolumeClaim: {claimName: data}
""")
add("manifest_yaml", "configmap-secret", """apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {b: "two"}
binaryData: {bin: aGVsbG8=}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
type: Opaque
data: {password: cGFzcw==}
stringData: {user: admin}
""")
add("manifest_yaml", "list-security", """apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: p, namespace: ns}
  spec:
    hostNetwork: true
    securityContext:
      runAsUser: 1000
      runAsNonRoot: true
      seccompProfile: {type: RuntimeDefault}
      sysctls: [{name: kernel.shm_rmid_forced, value: "1"}]
    initContainers:
    - name: init
      image: busybox
      command: [sh, -c, "echo $(A)"]
    containers:
    - name: c
      image: busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000
      args: ["sleep", "3600"]
      securityContext:
        capabilities: {add: [NET_ADMIN], drop: [ALL]}
        readOnlyRootFilesystem: yes
      livenessProbe:
        exec: {command: [true]}
        failureThreshold: 3
      lifecycle:
        preStop: {sleep: {seconds: 2}}
""")
add("manifest_yaml", "anchors-and-oddities", """kind: Pod
apiVersion: v1
metadata: &m {name: x, annotations: {a: 'b'}}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 0x10
  containers: [{name: a, image: "a:1", ports: [{containerPort: 0644}]}]
""")
add("manifest_yaml", "not-an-object", "- 1\n- [2, {3: 4}]\n")

# ---- image_manifest (first byte: the Content-Type choice) ----------------------------------------
digest = "sha256:" + "a" * 64
oci_manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": 7},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest,
                "size": 32, "annotations": {"org.opencontainers.image.title": "l"}}],
}
oci_index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 9,
         "platform": {"os": "linux", "architecture": arch, **({"variant": v} if v else {})}}
        for arch, v in (("amd64", ""), ("arm64", "v8"), ("arm", "v7"))
    ],
}
docker_manifest = dict(oci_manifest, mediaType="application/vnd.docker.distribution.manifest.v2+json")
docker_list = dict(oci_index, mediaType="application/vnd.docker.distribution.manifest.list.v2+json")
no_media_type = {k: v for k, v in oci_index.items() if k != "mediaType"}
add("image_manifest", "oci-manifest", b"\0" + json.dumps(oci_manifest).encode())
add("image_manifest", "oci-index", b"\0" + json.dumps(oci_index).encode())
add("image_manifest", "docker-manifest", b"\0" + json.dumps(docker_manifest).encode())
add("image_manifest", "docker-list", b"\3" + json.dumps(docker_list).encode())
add("image_manifest", "index-by-content-type", b"\1" + json.dumps(no_media_type).encode())
add("image_manifest", "schema1", b"\5" + json.dumps({"schemaVersion": 1, "name": "x"}).encode())

# ---- image_config -------------------------------------------------------------------------------
config = {
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"Entrypoint": ["/bin/sh"], "Cmd": ["-c", "echo"], "Env": ["PATH=/bin", "A=b"],
               "WorkingDir": "/w", "User": "1000:1000", "StopSignal": "SIGTERM",
               "Labels": {"k": "v"}, "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}},
    "rootfs": {"type": "layers", "diff_ids": [digest, "sha256:" + "b" * 64]},
    "history": [{"created_by": "x"}],
}
add("image_config", "full", json.dumps(config))
add("image_config", "user-name", json.dumps({"os": "linux", "architecture": "arm64",
                                               "config": {"User": "nobody"},
                                               "rootfs": {"type": "layers", "diff_ids": []}}))
add("image_config", "null-config", '{"os":"linux","config":null,"rootfs":{"diff_ids":null}}')

# ---- image_reference ----------------------------------------------------------------------------
for i, ref in enumerate(["busybox", "library/busybox:1.36", "docker.io/library/busybox:latest",
                         "127.0.0.1:5000/ns/name:tag", "[::1]:5000/a/b",
                         "name@sha256:" + "0" * 64, "gcr.io/a/b:t@sha256:" + "f" * 64,
                         "localhost/x", "UPPER/case", "a..b", "a:" + "t" * 129]):
    add("image_reference", f"ref{i}", ref)

# ---- auth_challenge -----------------------------------------------------------------------------
for i, header in enumerate([
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"',
        'Basic realm="Registry Realm"',
        'bearer realm="http://127.0.0.1:1/t", error="insufficient_scope", scope="a b"',
        'Bearer realm="a\\"b",service=unquoted',
        'Negotiate']):
    add("auth_challenge", f"challenge{i}", header)

# ---- cni_result ---------------------------------------------------------------------------------
result_1 = {"cniVersion": "1.0.0",
            "interfaces": [{"name": "eth0", "mac": "0a:58:0a:58:00:02", "sandbox": "/run/netns/x"}],
            "ips": [{"address": "10.88.0.2/16", "gateway": "10.88.0.1", "interface": 0}],
            "routes": [{"dst": "0.0.0.0/0"}], "dns": {"nameservers": ["10.0.0.10"]}}
result_04 = {"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.1.0.5/24"}]}
result_03 = {"cniVersion": "0.3.1", "ips": [{"version": "6", "address": "fd00::5/64",
                                              "interface": 2}], "interfaces": []}
add("cni_result", "result-1.0.0", json.dumps(result_1))
add("cni_result", "result-0.4.0", json.dumps(result_04))
add("cni_result", "result-0.3.1", json.dumps(result_03))
add("cni_result", "error", json.dumps({"cniVersion": "1.0.0", "code": 7, "msg": "no", "details": "d"}))
add("cni_result", "version", json.dumps({"cniVersion": "1.0.0",
                                         "supportedVersions": ["0.3.1", "0.4.0", "1.0.0"]}))
add("cni_result", "cache-entry", json.dumps({
    "kind": "peapod-cni-cache", "containerId": "abc", "ifName": "eth0", "networkName": "n",
    "netns": "/run/netns/x", "cniArgs": "K=V", "config": {"name": "n", "plugins": []},
    "capabilityArgs": {"portMappings": []}, "result": result_1}))

# ---- cni_conflist -------------------------------------------------------------------------------
add("cni_conflist", "bridge-portmap", json.dumps({
    "cniVersion": "1.0.0", "name": "peapod", "disableCheck": False,
    "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]]}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
                {"type": "firewall"}]}))
add("cni_conflist", "single-conf", json.dumps({
    "cniVersion": "0.4.0", "name": "single", "type": "loopback"}))
add("cni_conflist", "no-plugins", '{"cniVersion":"0.3.1","name":"x","plugins":[]}')

# ---- seccomp_profile (first byte: capabilities) ----------------------------------------------
profile = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
           "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
           "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
           "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                        {"name": "personality", "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]},
                        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                         "includes": {"caps": ["CAP_SYS_ADMIN"]}, "excludes": {"arches": ["x86"]}},
                        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                         "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}]}
add("seccomp_profile", "profile", b"\0" + json.dumps(profile).encode())
add("seccomp_profile", "allow-all", b"\1" + b'{"defaultAction":"SCMP_ACT_ALLOW"}')
add("seccomp_profile", "legacy", b"\2localhost/profiles/a.json")

# ---- quantity ---------------------------------------------------------------------------------
for i, q in enumerate(["100m", "0.5", "1", "128Mi", "1Gi", "10G", "1e3", "1E-3", "+2k", "-1",
                       "1.5Ei", "0.0001", "9223372036854775807", "1n", "2u"]):
    add("quantity", f"q{i}", q)

# ---- duration ---------------------------------------------------------------------------------
for i, d in enumerate(["250ms", "10s", "5m", "1h", "1h30m", "90", "0s", "2562047788015h",
                       "1.5h", "-1s", "10x", ""]):
    add("duration", f"d{i}", d)

# ---- http_head --------------------------------------------------------------------------------
add("http_head", "exec-spdy",
    "POST /exec/0123456789abcdef?command=sh&command=-c&command=echo%20hi&stdout=1&tty=0 HTTP/1.1\r\n"
    "Host: 127.0.0.1:1234\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
    "X-Stream-Protocol-Version: v4.channel.k8s.io, v3.channel.k8s.io\r\n\r\nrest")
add("http_head", "attach-websocket",
    "GET /attach/tok?stdin=true&stdout=true HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io,base64.channel.k8s.io\r\n\r\n")
add("http_head", "portforward", "GET /portforward/t?port=80,8080 HTTP/1.1\r\nHost: x\r\n\r\n")
add("http_head", "response", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n"
    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
add("http_head", "url", "http://[::1]:10250/exec/abc?x=1")

# ---- spdy_frames (first byte: read size - 1) ---------------------------------------------------
SPDY_DICT = (
    b"\x00\x00\x00\x07options\x00\x00\x00\x04head\x00\x00\x00\x04post\x00\x00\x00\x03put"
    b"\x00\x00\x00\x06delete\x00\x00\x00\x05trace\x00\x00\x00\x06accept\x00\x00\x00\x0e"
    b"accept-charset\x00\x00\x00\x0faccept-encoding\x00\x00\x00\x0faccept-language\x00\x00"
    b"\x00\raccept-ranges\x00\x00\x00\x03age\x00\x00\x00\x05allow\x00\x00\x00\rauthorization"
    b"\x00\x00\x00\rcache-control\x00\x00\x00\nconnection\x00\x00\x00\x0ccontent-base\x00\x00"
    b"\x00\x10content-encoding\x00\x00\x00\x10content-language\x00\x00\x00\x0econtent-length"
    b"\x00\x00\x00\x10content-location\x00\x00\x00\x0bcontent-md5\x00\x00\x00\rcontent-range"
    b"\x00\x00\x00\x0ccontent-type\x00\x00\x00\x04date\x00\x00\x00\x04etag\x00\x00\x00\x06"
    b"expect\x00\x00\x00\x07expires\x00\x00\x00\x04from\x00\x00\x00\x04host\x00\x00\x00\x08"
    b"if-match\x00\x00\x00\x11if-modified-since\x00\x00\x00\rif-none-match\x00\x00\x00\x08"
    b"if-range\x00\x00\x00\x13if-unmodified-since\x00\x00\x00\rlast-modified\x00\x00\x00\x08"
    b"location\x00\x00\x00\x0cmax-forwards\x00\x00\x00\x06pragma\x00\x00\x00\x12"
    b"proxy-authenticate\x00\x00\x00\x13proxy-authorization\x00\x00\x00\x05range\x00\x00\x00"
    b"\x07referer\x00\x00\x00\x0bretry-after\x00\x00\x00\x06server\x00\x00\x00\x02te\x00\x00"
    b"\x00\x07trailer\x00\x00\x00\x11transfer-encoding\x00\x00\x00\x07upgrade\x00\x00\x00\n"
    b"user-agent\x00\x00\x00\x04vary\x00\x00\x00\x03via\x00\x00\x00\x07warning\x00\x00\x00\x10"
    b"www-authenticate\x00\x00\x00\x06method\x00\x00\x00\x03get\x00\x00\x00\x06status\x00\x00"
    b"\x00\x06200 OK\x00\x00\x00\x07version\x00\x00\x00\x08HTTP/1.1\x00\x00\x00\x03url\x00\x00"
    b"\x00\x06public\x00\x00\x00\nset-cookie\x00\x00\x00\nkeep-alive\x00\x00\x00\x06origin"
    b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    b"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
    b"Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
    b"Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, "
    b"Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/"
    b"xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,"
    b"sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


def header_block(headers):
    out = struct.pack(">I", len(headers))
    for k, v in headers:
        out += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
    return out


class Compressor:
    def __init__(self):
        self.z = zlib.compressobj(zdict=SPDY_DICT)

    def block(self, headers):
        return self.z.compress(header_block(headers)) + self.z.flush(zlib.Z_SYNC_FLUSH)


def control(kind, flags, payload):
    return struct.pack(">HHI", 0x8000 | 3, kind, (flags << 24) | len(payload)) + payload


def data_frame(stream, flags, payload):
    return struct.pack(">II", stream, (flags << 24) | len(payload)) + payload


def spdy_session(chunk):
    c = Compressor()
    frames = b""
    for sid, stype in ((1, "error"), (3, "stdin"), (5, "stdout"), (7, "resize")):
        frames += control(1, 0, struct.pack(">IIH", sid, 0, 0) +
                          c.block([("streamtype", stype), ("port", "8080"), ("requestid", "1")]))
    frames += data_frame(3, 0, b"echo hi\n") + data_frame(7, 0, b'{"Width":80,"Height":24}')
    frames += control(6, 0, struct.pack(">I", 1))            # PING
    frames += control(9, 0, struct.pack(">II", 3, 65536))    # WINDOW_UPDATE
    frames += control(4, 0, struct.pack(">II", 0, 1) + struct.pack(">II", 0x01000007, 65536))
    frames += data_frame(3, 1, b"")                           # FIN
    frames += control(8, 0, struct.pack(">I", 3) + c.block([("x", "y")]))  # HEADERS
    frames += control(3, 0, struct.pack(">II", 5, 5))         # RST_STREAM
    frames += control(7, 0, struct.pack(">II", 7, 0))         # GOAWAY
    return bytes([chunk]) + frames


add("spdy_frames", "exec-session", spdy_session(255))
add("spdy_frames", "exec-session-small-reads", spdy_session(2))
add("spdy_frames", "syn-reply", b"\x40" + control(2, 1, struct.pack(">I", 1) +
                                                  Compressor().block([(":status", "200")])))

# ---- websocket_frames (first byte: read size - 1) ----------------------------------------------


def ws(opcode, payload, fin=True, mask=b"\x01\x02\x03\x04"):
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes([first, (0x80 if mask else 0) | n])
    elif n < 65536:
        head = bytes([first, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
    else:
        head = bytes([first, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


add("websocket_frames", "channels", b"\xff" + ws(2, b"\x00echo hi\n") + ws(2, b"\x04{}") +
    ws(9, b"ping") + ws(2, b"\x01" + b"x" * 300) + ws(8, b"\x03\xe8bye"))
add("websocket_frames", "fragments", b"\x03" + ws(1, b"\x00frag", fin=False) +
    ws(9, b"") + ws(0, b"ment", fin=False) + ws(0, b"!") + ws(10, b"pong"))
add("websocket_frames", "unmasked", b"\x10" + ws(2, b"\x01out", mask=None) + ws(8, b"", mask=None))

# ---- probe_response (first byte: even HTTP/1.1, odd gRPC over HTTP/2) ---------------------------
add("probe_response", "http-200", b"\0HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
add("probe_response", "http-503", b"\0HTTP/1.0 503 Service Unavailable\r\n\r\n")
add("probe_response", "http-garbage", b"\0HTTP/1.1 abc\r\n")


def h2(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


grpc_message = b"\x00" + struct.pack(">I", 2) + b"\x08\x01"  # HealthCheckResponse{status: SERVING}
add("probe_response", "grpc-serving", b"\x01" + h2(4, 0, 0, b"") + h2(4, 1, 0, b"") +
    h2(6, 0, 0, b"12345678") + h2(1, 4, 1, b"\x88") + h2(0, 0, 1, grpc_message) +
    h2(1, 5, 1, b"\x40\x0bgrpc-status\x010"))
add("probe_response", "grpc-padded-not-serving", b"\x01" + h2(4, 0, 0, b"") + h2(1, 4, 1, b"\x88") +
    h2(0, 8, 1, b"\x03" + b"\x00" + struct.pack(">I", 2) + b"\x08\x02" + b"\0\0\0"))
add("probe_response", "grpc-trailers-only", b"\x01" + h2(1, 5, 1, b"\x88"))
add("probe_response", "grpc-goaway", b"\x01" + h2(7, 0, 0, struct.pack(">II", 0, 2)))

# ---- layer_unpack -----------------------------------------------------------------------------
layer_entries = [
    ("etc/", tarfile.DIRTYPE, None, 0o755),
    ("etc/hostname", tarfile.REGTYPE, b"fuzz\n", 0o644),
    ("etc/link", tarfile.SYMTYPE, "hostname", 0o777),
    ("etc/hard", tarfile.LNKTYPE, "etc/hostname", 0o644),
    ("var/", tarfile.DIRTYPE, None, 0o755),
    ("var/.wh..wh..opq", tarfile.REGTYPE, b"", 0o644),
    ("var/.wh.gone", tarfile.REGTYPE, b"", 0o644),
    ("bin/sh", tarfile.REGTYPE, b"#!/bin/true\n", 0o4755),
    ("fifo", tarfile.FIFOTYPE, None, 0o600),
]
layer = tar_bytes(layer_entries)
add("layer_unpack", "layer.tar", layer)
add("layer_unpack", "layer-gnu.tar", tar_bytes(layer_entries[:4], fmt=tarfile.GNU_FORMAT))
add("layer_unpack", "layer.tar.gz", gz(layer))
add("layer_unpack", "escape.tar", tar_bytes([("a", tarfile.SYMTYPE, "/", 0o777),
                                             ("a/etc", tarfile.REGTYPE, b"x", 0o644),
                                             ("../up", tarfile.REGTYPE, b"x", 0o644)]))

# ---- image_archive: docker save and OCI layout --------------------------------------------------
small_layer = tar_bytes(layer_entries[:2])
layer_hex = sha(small_layer)
image_config = json.dumps({"architecture": "amd64", "os": "linux",
                           "config": {"Cmd": ["/bin/sh"]},
                           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_hex]}}).encode()
config_hex = sha(image_config)
docker_save = tar_bytes([
    (f"{config_hex}.json", tarfile.REGTYPE, image_config, 0o644),
    (f"{layer_hex}/layer.tar", tarfile.REGTYPE, small_layer, 0o644),
    ("manifest.json", tarfile.REGTYPE, json.dumps([{
        "Config": f"{config_hex}.json", "RepoTags": ["fuzz/app:1", "busybox"],
        "Layers": [f"{layer_hex}/layer.tar"]}]).encode(), 0o644),
    ("repositories", tarfile.REGTYPE, b'{"fuzz/app":{"1":"x"}}', 0o644),
])
add("image_archive", "docker-save.tar", docker_save)
gz_layer = gz(small_layer)
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + config_hex, "size": len(image_config)},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                   "digest": "sha256:" + sha(gz_layer), "size": len(gz_layer)}]}).encode()
index = json.dumps({"schemaVersion": 2, "manifests": [{
    "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(manifest),
    "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "v1"},
    "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
oci = tar_bytes([
    ("oci-layout", tarfile.REGTYPE, b'{"imageLayoutVersion":"1.0.0"}', 0o644),
    ("index.json", tarfile.REGTYPE, index, 0o644),
    ("blobs/", tarfile.DIRTYPE, None, 0o755),
    ("blobs/sha256/", tarfile.DIRTYPE, None, 0o755),
    (f"blobs/sha256/{sha(manifest)}", tarfile.REGTYPE, manifest, 0o644),
    (f"blobs/sha256/{config_hex}", tarfile.REGTYPE, image_config, 0o644),
    (f"blobs/sha256/{sha(gz_layer)}", tarfile.REGTYPE, gz_layer, 0o644),
])
add("image_archive", "oci-layout.tar", oci)
add("image_archive", "oci-layout.tar.gz", gz(oci))

# ---- auth_file (docker config.json) and daemon_config (peapodd's config.yaml) -----------------
for i, doc in enumerate([
        {"auths": {"127.0.0.1:5000": {"auth": "YWxpY2U6cHc="}}},
        {"auths": {"https://index.docker.io/v1/": {"username": "u", "password": "p"},
                   "r.example": {"identitytoken": "t"}, "q.example": {"registrytoken": "b"}}},
        {"auths": {"r.example": {"auth": "bm9jb2xvbg=="}}, "credHelpers": {"gcr.io": "x"}},
        {"auths": []}]):
    add("auth_file", f"a{i}", json.dumps(doc))
for i, text in enumerate([
        "listen: /run/peapod/peapod.sock\nstream-token-ttl: 60\nbackoff-initial: 10s\n",
        "cni-plugin-dirs: [/opt/cni/bin, /usr/lib/cni]\nruntime-handler: [fast]\nlog-level: debug\n",
        "registries:\n  docker.io:\n    mirrors: [\"http://127.0.0.1:5000\"]\n    fallback: true\n"
        "  registry.internal:5000:\n    insecure: true\nauth-file: /etc/peapod/auth.json\n",
        "warm-pool-size: 2\nimage-gc-high-threshold-percent: 85\nimage-gc-low-threshold-percent: 90\n",
        "listen: /a\nlisten: /b\n---\nx: 1\n", "max-image-size: 10Gi\nimage-minimum-gc-age: 2m\n"]):
    add("daemon_config", f"c{i}", text)

# ---- write ------------------------------------------------------------------------------------
if os.path.isdir(ROOT):
    shutil.rmtree(ROOT)
for target, files in sorted(corpus.items()):
    os.makedirs(os.path.join(ROOT, target))
    for name, data in sorted(files.items()):
        with open(os.path.join(ROOT, target, name), "wb") as f:
            f.write(data)
print(f"make_corpus: {sum(len(f) for f in corpus.values())} inputs for {len(corpus)} targets")
