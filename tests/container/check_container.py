#!/usr/bin/env python3
"""Checks the container files without a Docker engine (there is none on our machines).

  dockerfile   the build stage runs the same install and build scripts CI runs (.ci/run ->
               scripts/test.sh); every file the Dockerfile COPYs exists; the runtime stage
               installs a Debian package for every shared library the built binaries link
  seccomp      containers/seccomp.json is valid JSON, allows all of Docker's default allowlist,
               and adds only the launcher's syscalls, each with its reason in docs/deploy.md
  entrypoint   the image's entrypoint refuses to start without the interpreter, with a clear
               message, and execs the gateway when it is there
  healthcheck  the HEALTHCHECK script passes on 200 from /healthz and fails otherwise
  deploy       compose.yaml, k8s/ and nginx.conf say what docs/deploy.md says (least privilege,
               our seccomp profile, probes, affinity); nginx -t accepts nginx.conf

Usage: check_container.py CHECK --source-root DIR [--build-root DIR]. Exit 0 pass, 1 fail,
77 skipped (meson's convention), printing every problem found.
"""
import argparse
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

problems = []


def expect(condition, message):
    if not condition:
        problems.append(message)
    return condition


def read(root, rel):
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        return f.read()


def dockerfile_instructions(text):
    """(instruction, arguments) pairs with line continuations joined and comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        current += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            current = ""
    return out


def stages(instructions):
    """Splits the instructions into stages: [(from_args, [instructions...])]."""
    result = []
    for word, args in instructions:
        if word == "FROM":
            result.append((args, []))
        elif result:
            result[-1][1].append((word, args))
    return result


def check_dockerfile(src, build):
    text = read(src, "containers/Dockerfile")
    all_stages = stages(dockerfile_instructions(text))
    expect(len(all_stages) >= 2, "Dockerfile: expected a build stage and a runtime stage")
    if len(all_stages) < 2:
        return
    build_from, build_steps = all_stages[0]
    run_from, run_steps = all_stages[-1]
    expect(build_from.split()[0] == "debian:bookworm", f"build stage FROM {build_from}")
    expect(run_from.split()[0] == "debian:bookworm-slim", f"runtime stage FROM {run_from}")

    # What CI runs: .ci/run -> scripts/test.sh -> install-deps.sh and build.sh build.
    ci = read(src, ".ci/run")
    expect("./scripts/test.sh" in ci, ".ci/run no longer runs ./scripts/test.sh")
    test_sh = read(src, "scripts/test.sh")
    ci_scripts = re.findall(r"\./scripts/(install-deps\.sh|build\.sh build)\b", test_sh)
    expect({"install-deps.sh", "build.sh build"} <= set(ci_scripts),
           "scripts/test.sh no longer runs install-deps.sh and build.sh build")
    build_runs = " && ".join(args for word, args in build_steps if word == "RUN")
    for script in ("./scripts/install-deps.sh", "./scripts/build.sh build"):
        expect(script in build_runs, f"the build stage does not run {script} as CI does")
    expect("apt-get" not in build_runs,
           "the build stage installs packages itself instead of through install-deps.sh")

    # Every COPY source from the context exists; --from=build sources are built by meson.
    for word, args in build_steps + run_steps:
        if word != "COPY":
            continue
        parts = args.split()
        flags = [p for p in parts if p.startswith("--")]
        paths = [p for p in parts if not p.startswith("--")]
        sources = paths[:-1]
        expect(sources, f"COPY without a source: {args}")
        if any(f.startswith("--from=") for f in flags):
            for s in sources:
                m = re.fullmatch(r"/src/build/(gateway|sandbox)/(nospace-gateway|nospace-sandbox)", s)
                if expect(m, f"COPY --from: unexpected source {s}"):
                    meson = read(src, f"{m.group(1)}/meson.build")
                    expect(re.search(r"executable\(\s*'" + m.group(2) + "'", meson),
                           f"{m.group(1)}/meson.build declares no executable '{m.group(2)}'")
            continue
        for s in sources:
            expect(os.path.exists(os.path.join(src, s)), f"COPY source {s} does not exist")

    # The entrypoint, healthcheck and policy land where the image expects them.
    steps = build_steps + run_steps
    expect(any(w == "HEALTHCHECK" and "nospace-healthcheck" in a for w, a in run_steps),
           "no HEALTHCHECK running nospace-healthcheck")
    expect(any(w == "COPY" and a.endswith(" /etc/nospace/policy.yaml") for w, a in run_steps),
           "the policy is not copied to /etc/nospace/policy.yaml")
    expect(not any(w == "USER" and a.split()[0] in ("root", "0") for w, a in run_steps),
           "USER root in the Dockerfile")
    expect(not any("--privileged" in a for _, a in steps), "the Dockerfile uses --privileged")

    # Runtime libraries: every library the binaries link comes from a package installed in the
    # runtime stage (or from the base image's essential set).
    run_installs = " ".join(args for word, args in run_steps if word == "RUN")
    m = re.search(r"apt-get install[^&]*", run_installs)
    installed = set(re.findall(r"\b(lib[a-z0-9.+-]+)", m.group(0))) if m else set()
    base = {"libc6", "libgcc-s1", "libstdc++6"}
    for binary in ("gateway/nospace-gateway", "sandbox/nospace-sandbox"):
        path = os.path.join(build or "", binary)
        if not build or not os.path.isfile(path):
            print(f"note: {binary} not built in {build}: runtime libraries not checked")
            continue
        ldd = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        for lib in re.findall(r"=>\s*(/\S+)", ldd):
            owner = subprocess.run(["dpkg", "-S", os.path.realpath(lib)], capture_output=True,
                                   text=True).stdout.split(":")[0]
            if not owner:
                owner = subprocess.run(["dpkg", "-S", lib], capture_output=True,
                                       text=True).stdout.split(":")[0]
            expect(owner in installed | base,
                   f"{binary} links {lib} from package '{owner}', not installed in the runtime stage")


def check_seccomp(src, build):
    try:
        profile = json.loads(read(src, "containers/seccomp.json"))
    except json.JSONDecodeError as e:
        expect(False, f"containers/seccomp.json is not valid JSON: {e}")
        return
    expect(profile.get("defaultAction") == "SCMP_ACT_ERRNO", "defaultAction is not SCMP_ACT_ERRNO")
    allowed = {}
    for rule in profile.get("syscalls", []):
        if rule.get("action") != "SCMP_ACT_ALLOW":
            continue
        for name in rule.get("names", []):
            allowed.setdefault(name, []).append(rule)
    docker = [line.strip() for line in read(src, "tests/container/docker_default_allowlist.txt")
              .splitlines() if line.strip() and not line.startswith("#")]
    expect(len(docker) > 300, "the reference list of Docker's allowlist looks truncated")
    for name in docker:
        expect(name in allowed, f"Docker's default allows {name}; containers/seccomp.json does not")
    # Docker's conditions are kept: socket never for AF_VSOCK, personality only fixed values.
    for rule in allowed.get("socket", []):
        expect(rule.get("args") == [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}],
               "socket is allowed with other conditions than Docker's")
    for rule in allowed.get("personality", []):
        expect(rule.get("args"), "personality is allowed without Docker's argument check")

    extras = sorted(set(allowed) - set(docker))
    deploy = read(src, "docs/deploy.md")
    documented = set()  # the first cell of a table row: `name` or `a`, `b`, `c`
    for cell in re.findall(r"^\|\s*(`[a-z0-9_]+`(?:,\s*`[a-z0-9_]+`)*)\s*\|", deploy, re.M):
        documented |= set(re.findall(r"`([a-z0-9_]+)`", cell))
    for name in extras:
        expect(name in documented, f"seccomp.json adds {name} without a reason in docs/deploy.md")
    for needed in ("clone", "unshare", "mount", "pivot_root", "umount2"):
        expect(needed in allowed, f"the launcher needs {needed}; containers/seccomp.json lacks it")
    # What the launcher never needs stays out, even though it is in Docker's CAP_SYS_ADMIN set.
    for never in ("bpf", "perf_event_open", "kexec_load", "init_module", "keyctl", "add_key",
                  "open_by_handle_at", "reboot", "swapon", "acct", "syslog", "userfaultfd"):
        expect(never not in allowed, f"containers/seccomp.json allows {never}")
    print(f"seccomp: {len(docker)} Docker syscalls, {len(extras)} added: {' '.join(extras)}")


def write_exe(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def check_entrypoint(src, build):
    entry = os.path.join(src, "containers/entrypoint.sh")
    with tempfile.TemporaryDirectory() as tmp:
        policy = os.path.join(tmp, "policy.yaml")
        with open(policy, "w") as f:
            f.write("server: {port: 8080}\n")
        interpreter = os.path.join(tmp, "bin", "nospace20")
        # A stand-in gateway: --check-policy prints what the real one prints (the effective
        # policy as JSON, indented); otherwise it shows it was exec'd with the arguments.
        fake = os.path.join(tmp, "gateway")
        effective = json.dumps({"server": {"path": "/socket.io/", "port": 8080},
                                "interpreter": {"languages": ["standard"], "path": interpreter}},
                               indent=2)
        write_exe(fake, "#!/bin/sh\nif [ \"$1\" = --check-policy ]; then cat <<'J'\n" +
                  effective + "\nJ\nexit 0; fi\necho \"gateway started: $*\"\n")
        env = dict(os.environ, NOSPACE_GATEWAY=fake)
        env.pop("NOSPACE_BIN_PATH", None)

        def run(*args):
            return subprocess.run(["sh", entry, *args], capture_output=True, text=True, env=env,
                                  timeout=20)

        r = run("--policy", policy)
        expect(r.returncode == 78, f"missing interpreter: exit {r.returncode}, expected 78")
        expect(f"the nospace20 interpreter is missing: {interpreter} does not exist" in r.stderr,
               f"missing interpreter: unclear message: {r.stderr!r}")
        expect(f"-v /path/to/nospace20:{interpreter}:ro" in r.stderr,
               "missing interpreter: the message does not say how to mount it")
        expect("--build-arg NOSPACE20=" in r.stderr,
               "missing interpreter: the message does not say how to build it in")
        expect("gateway started" not in r.stdout, "the gateway started without an interpreter")

        os.makedirs(os.path.dirname(interpreter))
        with open(interpreter, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(interpreter, 0o644)
        r = run("--policy", policy)
        expect(r.returncode == 78 and "not an executable file" in r.stderr,
               f"non-executable interpreter: exit {r.returncode}: {r.stderr!r}")

        os.chmod(interpreter, 0o755)
        r = run("--policy", policy)
        expect(r.returncode == 0 and r.stdout.strip() == f"gateway started: --policy {policy}",
               f"with the interpreter the gateway must be exec'd: exit {r.returncode}, "
               f"out {r.stdout!r}, err {r.stderr!r}")

        r = run("--policy", os.path.join(tmp, "missing.yaml"))
        expect(r.returncode == 78 and "no policy at" in r.stderr,
               f"missing policy: exit {r.returncode}: {r.stderr!r}")

        write_exe(fake, "#!/bin/sh\necho 'policy.yaml:3: unknown key server.prot' >&2; exit 1\n")
        r = run("--policy", policy)
        expect(r.returncode == 78 and "unknown key server.prot" in r.stderr and
               "is invalid" in r.stderr, f"invalid policy: exit {r.returncode}: {r.stderr!r}")

        # With the real gateway, when it is built and has --check-policy.
        real = os.path.join(build or "", "gateway/nospace-gateway")
        if build and os.path.isfile(real):
            env["NOSPACE_GATEWAY"] = real
            env["NOSPACE_BIN_PATH"] = os.path.join(tmp, "nowhere", "nospace20")
            r = run("--policy", os.path.join(src, "policies/default.yaml"))
            expect(r.returncode == 78 and
                   f"{env['NOSPACE_BIN_PATH']} does not exist" in r.stderr,
                   f"real gateway, NOSPACE_BIN_PATH missing: exit {r.returncode}: {r.stderr!r}")


class Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(Handler.status if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


def check_healthcheck(src, build):
    script = os.path.join(src, "containers/healthcheck.sh")
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    server.handle_error = lambda *args: None  # the script hangs up after the status line
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, PORT=str(port))
    r = subprocess.run(["bash", script], env=env, capture_output=True, timeout=10)
    expect(r.returncode == 0, f"healthcheck: 200 from /healthz gave exit {r.returncode}")
    Handler.status = 503
    r = subprocess.run(["bash", script], env=env, capture_output=True, timeout=10)
    expect(r.returncode == 1, f"healthcheck: 503 from /healthz gave exit {r.returncode}")
    server.shutdown()
    server.server_close()
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    r = subprocess.run(["bash", script], env=dict(os.environ, PORT=str(free)),
                       capture_output=True, timeout=10)
    expect(r.returncode == 1, f"healthcheck: nothing listening gave exit {r.returncode}")


def check_deploy(src, build):
    deploy = read(src, "docs/deploy.md")
    compose = read(src, "containers/compose.yaml")
    k8s = read(src, "containers/k8s/deployment.yaml")
    service = read(src, "containers/k8s/service.yaml")
    for name, text in (("compose.yaml", compose), ("k8s/deployment.yaml", k8s),
                       ("docs/deploy.md", deploy)):
        expect(not re.search(r"privileged:\s*true|--privileged(?!`)", text),
               f"{name} runs privileged")
    # The documented docker run line: the same capabilities and profile as compose and k8s.
    m = re.search(r"```sh\n(docker run[^`]*?)\n```", deploy)
    if expect(m, "docs/deploy.md has no ```sh block with the docker run line"):
        line = m.group(1)
        for flag in ("--cap-drop ALL", "--cap-add SETUID", "--cap-add SETGID",
                     "--security-opt seccomp=containers/seccomp.json"):
            expect(flag in line, f"the documented docker run line lacks {flag}")
        caps = set(re.findall(r"--cap-add (\w+)", line))
        compose_caps = set(re.findall(r"cap_add: \[([^\]]*)\]", compose)[0].replace(" ", "")
                           .split(",")) if "cap_add" in compose else set()
        k8s_caps = set(re.findall(r"add: \[([^\]]*)\]", k8s)[0].replace(" ", "").split(","))
        expect(caps == compose_caps == k8s_caps,
               f"capabilities differ: docker run {caps}, compose {compose_caps}, k8s {k8s_caps}")
    expect("seccomp=./seccomp.json" in compose, "compose.yaml does not use containers/seccomp.json")
    expect("cap_drop: [ALL]" in compose, "compose.yaml does not drop all capabilities")
    expect(re.search(r"localhostProfile: profiles/nospace.json", k8s), "k8s: no seccomp profile")
    expect("path: /healthz" in k8s and "path: /readyz" in k8s, "k8s: probes missing")
    expect("drop: [ALL]" in k8s, "k8s: capabilities not dropped")
    expect("sessionAffinity: ClientIP" in service, "k8s: Service without session affinity")
    try:
        import yaml  # optional: python3-yaml is not a declared dependency
        for rel in ("containers/compose.yaml", "containers/k8s/deployment.yaml",
                    "containers/k8s/service.yaml", "containers/k8s/ingress.yaml",
                    "containers/k8s/poddisruptionbudget.yaml", "containers/k8s/policy.yaml"):
            list(yaml.safe_load_all(read(src, rel)))
    except ImportError:
        print("note: python3-yaml not installed: YAML syntax not parsed")
    except Exception as e:  # yaml.YAMLError
        expect(False, f"invalid YAML: {e}")

    # The Kubernetes policy is a valid policy (checked by the gateway itself when built).
    gateway = os.path.join(build or "", "gateway/nospace-gateway")
    if build and os.path.isfile(gateway):
        r = subprocess.run([gateway, "--check-policy",
                            os.path.join(src, "containers/k8s/policy.yaml")],
                           capture_output=True, text=True, timeout=20)
        expect(r.returncode == 0, f"containers/k8s/policy.yaml is invalid: {r.stderr}")
        if r.returncode == 0:
            first = json.loads(r.stdout)["sandbox"]["uid_range"]["first"]
            expect(first + json.loads(r.stdout)["sandbox"]["uid_range"]["count"] <= 65536,
                   "containers/k8s/policy.yaml: uid_range outside a pod's 65,536 uids")

    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    conf = read(src, "containers/nginx.conf")
    expect("hash $remote_addr consistent" in conf or "ip_hash" in conf,
           "nginx.conf: no sticky sessions")
    expect("proxy_set_header Upgrade $http_upgrade" in conf, "nginx.conf: no WebSocket upgrade")
    if nginx:
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "logs"))
            r = subprocess.run([nginx, "-t", "-p", tmp + "/", "-c",
                                os.path.join(src, "containers/nginx.conf"), "-g",
                                f"pid {tmp}/nginx.pid; error_log {tmp}/error.log;"],
                               capture_output=True, text=True, timeout=20)
            expect(r.returncode == 0, f"nginx -t rejects containers/nginx.conf: {r.stderr}")
    else:
        print("note: nginx not installed: nginx.conf not checked by nginx -t")


CHECKS = {"dockerfile": check_dockerfile, "seccomp": check_seccomp,
          "entrypoint": check_entrypoint, "healthcheck": check_healthcheck,
          "deploy": check_deploy}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("check", choices=sorted(CHECKS))
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--build-root")
    args = ap.parse_args()
    build = os.path.abspath(args.build_root) if args.build_root else None
    CHECKS[args.check](os.path.abspath(args.source_root), build)
    for p in problems:
        print(f"FAIL: {p}")
    print(f"{args.check}: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
