#!/usr/bin/env python3
"""Reading a Firehose archive straight from S3, against a local S3 server (moto) on 127.0.0.1.

In one run, round-robin, the median of --runs each:
  - `aws s3 sync` of the prefix to an empty directory (the AWS CLI from PyPI): merely copying;
  - `gcorr correlate s3://.../ -o OUT`: reading, correlating and writing the timelines;
  - DuckDB's `read_json('s3://.../**')` through httpfs, where the extension can be installed;
and then a one-hour --since/--until window over the day, which must read at most the objects of
the window and its margins (the summary's input count and --report's pruned figures).

Needs: python3 -m pip install 'moto[server]' awscli boto3 (scripts/test installs moto); for
DuckDB: python3 -m pip install duckdb==1.4.4 duckdb-ext-httpfs==1.4.4.20260205.
Usage: python3 bench/s3_bench.py [--gcorr target/release/gcorr] [--objects-per-hour 6]
       [--events-per-object 4000] [--runs 3]
"""

import argparse
import datetime as dt
import gzip
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

DAY = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    sys.exit("moto did not start")


def envelope(rng, conv, ms):
    iso = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    return {
        "version": "0",
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "detail-type": "v2.detail.events.conversation.{id}.acd.start",
        "source": "aws.partner/genesys.com/cloud/d23b5987-504c-4b3d-a484-bf2e47c76f75/bench",
        "account": "418295710364",
        "time": iso.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "topicName": f"v2.detail.events.conversation.{conv}.acd.start",
            "version": "2",
            "eventBody": {
                "eventTime": ms,
                "conversationId": conv,
                "participantId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "sessionId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "mediaType": rng.choice(["VOICE", "CALLBACK", "CHAT", "EMAIL"]),
                "direction": "INBOUND",
                "queueId": "b0c56f5f-f45a-4da8-82e4-7853d3781dfa",
            },
            "metadata": {"CorrelationId": str(uuid.UUID(int=rng.getrandbits(128), version=4))},
            "timestamp": iso.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        },
    }


def objects(per_hour, per_object):
    """A day of gzip Firehose objects: (key, bytes)."""
    rng = random.Random(1)
    step = 3600 // per_hour
    out = []
    for h in range(24):
        for k in range(per_hour):
            start = DAY + dt.timedelta(hours=h, seconds=k * step)
            base = int(start.timestamp() * 1000)
            convs = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(per_object // 8)]
            body = "".join(
                json.dumps(envelope(rng, rng.choice(convs), base + rng.randrange(step * 1000)), separators=(",", ":"))
                for _ in range(per_object)
            )
            name = start.strftime("fh/%Y/%m/%d/%H/gc-events-1-%Y-%m-%d-%H-%M-%S-") + str(uuid.UUID(int=rng.getrandbits(128)))
            out.append((name + ".gz", gzip.compress(body.encode(), compresslevel=6)))
    return out


def timed(cmd, env):
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t
    if done.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return took, done.stderr


def duckdb_query(endpoint):
    """A command timing DuckDB's read_json over the prefix, or the reason there is none."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return None, "duckdb (Python) not installed"
    host = endpoint.removeprefix("http://")
    # PyPI's duckdb-ext-httpfs ships the extension for its DuckDB version; else DuckDB's own
    # INSTALL, which needs its extension host.
    import glob
    import importlib.util

    spec = importlib.util.find_spec("duckdb_ext")
    found = []
    for d in (spec.submodule_search_locations or []) if spec else []:
        found += glob.glob(os.path.join(d, "extensions", "*", "*", "httpfs.duckdb_extension"))
    load = f"LOAD '{found[0]}';" if found else "INSTALL httpfs; LOAD httpfs;"
    script = (
        "import duckdb,sys;c=duckdb.connect(config={'allow_unsigned_extensions':'true'});"
        f"c.execute(\"{load}\");"
        f"c.execute(\"SET s3_endpoint='{host}'; SET s3_use_ssl=false; SET s3_url_style='path';"
        "SET s3_access_key_id='bench'; SET s3_secret_access_key='bench'; SET s3_region='us-east-1';\");"
        "print(c.execute(\"SELECT count(DISTINCT id) FROM read_json('s3://bench/fh/**', format='auto')\").fetchone())"
    )
    probe = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"httpfs not installable here: {last[:160]}"
    return [sys.executable, "-c", script], None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gcorr", default="target/release/gcorr")
    ap.add_argument("--objects-per-hour", type=int, default=6)
    ap.add_argument("--events-per-object", type=int, default=4000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    import boto3

    moto, endpoint = start_moto()
    try:
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_ENDPOINT_URL_S3=endpoint,
        )
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="bench")
        objs = objects(args.objects_per_hour, args.events_per_object)
        for key, data in objs:
            s3.put_object(Bucket="bench", Key=key, Body=data)
        size = sum(len(d) for _, d in objs)
        raw = sum(len(gzip.decompress(d)) for _, d in objs)
        print(f"{len(objs)} objects over 24 hours, {size / 1e6:.1f} MB gzip ({raw / 1e6:.1f} MB of JSON)")

        work = tempfile.mkdtemp(prefix="gcorr-s3-bench-")
        url = "s3://bench/fh/"
        contenders = {
            "aws s3 sync": lambda d: ["aws", "s3", "sync", url, d, "--endpoint-url", endpoint, "--only-show-errors"],
            "gcorr correlate s3://": lambda d: [args.gcorr, "correlate", url, "-q", "-o", os.path.join(d, "out.ndjson")],
        }
        # The same objects on local disk: what reading from S3 adds to gcorr's own work.
        local = os.path.join(work, "local")
        timed(["aws", "s3", "sync", url, local, "--endpoint-url", endpoint, "--only-show-errors"], env)
        contenders["gcorr correlate (local copy)"] = lambda d: [args.gcorr, "correlate", local, "-q", "-o", os.path.join(d, "out.ndjson")]
        duck, why = duckdb_query(endpoint)
        if duck:
            contenders["DuckDB read_json s3://"] = lambda d: duck
        times = {name: [] for name in contenders}
        for r in range(args.runs):
            for name, cmd in contenders.items():
                d = os.path.join(work, f"{r}-{len(times[name])}-{name.split()[0]}")
                os.makedirs(d)
                times[name].append(timed(cmd(d), env)[0])
                shutil.rmtree(d)
        print(f"median of {args.runs} runs, round-robin:")
        base = statistics.median(times["gcorr correlate s3://"])
        for name, ts in times.items():
            m = statistics.median(ts)
            print(f"  {name:<26} {m:7.2f} s  ({', '.join(f'{t:.2f}' for t in ts)})  {m / base:.2f}x gcorr")
        if not duck:
            print(f"  DuckDB: {why}")

        for n in (4, 16, 64):
            rss = os.path.join(work, "rss")
            cmd = ["/usr/bin/time", "-f", "%M", "-o", rss, args.gcorr, "correlate", url, "-q", "-o", os.devnull]
            took, _ = timed([*cmd, "--s3-concurrency", str(n)], env)
            with open(rss) as f:
                print(f"  gcorr --s3-concurrency {n:<3} {took:7.2f} s, peak RSS {int(f.read().split()[-1]) / 1024:.0f} MB")

        window = ["--since", "2026-03-02T10:00:00Z", "--until", "2026-03-02T11:00:00Z"]
        report = os.path.join(work, "window.json")
        took, _ = timed([args.gcorr, "correlate", url, *window, "-q", "-o", os.devnull, "--report", report], env)
        with open(report) as f:
            rep = json.load(f)
        lo, hi = DAY + dt.timedelta(hours=10 - 1, minutes=-15), DAY + dt.timedelta(hours=11 + 1 + 1)
        allowed = sum(1 for k, _ in objs if lo <= key_time(k) <= hi)
        print(
            f"one-hour window: {took:.2f} s, {rep['inputs']} objects read (at most {allowed} allowed: "
            f"08:45 to 13:00), {rep['pruned']['objects']} listed and pruned, "
            f"{rep['pruned']['prefixes']} hour prefixes not listed"
        )
        if rep["inputs"] > allowed:
            sys.exit("pruning read more than the window and its margins")
        shutil.rmtree(work)
    finally:
        moto.terminate()


def key_time(key):
    stamp = key.rsplit("/", 1)[1].split("-", 3)[3][:19]
    return dt.datetime.strptime(stamp, "%Y-%m-%d-%H-%M-%S").replace(tzinfo=dt.timezone.utc)


if __name__ == "__main__":
    main()
