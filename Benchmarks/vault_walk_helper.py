#!/usr/bin/env python3
"""Helpers for vault_walk.sh: seed N KV v2 secrets fast, and the hvac sequential walk.

seed ADDR MOUNT PREFIX N   writes N secrets MOUNT/PREFIX/app-XXX/secret-YYY (100 a folder)
                           with 16 threads on kept-alive connections; prints the read URLs
                           file path list on stdout, one API path a line.
hvac ADDR MOUNT PREFIX     lists recursively and reads every secret sequentially with hvac;
                           prints "count seconds".
The token comes from VAULT_TOKEN (the benchmark's throwaway dev server's root token).
"""
import http.client
import json
import os
import sys
import threading
import time
from urllib.parse import urlsplit


def seed(addr, mount, prefix, count):
    token = os.environ["VAULT_TOKEN"]
    host = urlsplit(addr)
    paths = [f"{prefix}/app-{i // 100:03d}/secret-{i % 100:03d}" for i in range(count)]
    chunks = [paths[i::16] for i in range(16)]
    errors = []

    def worker(chunk):
        conn = http.client.HTTPConnection(host.hostname, host.port)
        for path in chunk:
            body = json.dumps({"data": {
                "DATABASE_URL": f"postgres://app:{os.urandom(12).hex()}@db/{path}",
                "SESSION_SECRET": os.urandom(32).hex(),
                "API_KEY": os.urandom(16).hex(),
            }})
            conn.request("POST", f"/v1/{mount}/data/{path}", body,
                         {"X-Vault-Token": token, "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"seed: {len(errors)} writes failed, e.g. HTTP {errors[0]}")
    for path in paths:
        print(f"{mount}/data/{path}")


def hvac_walk(addr, mount, prefix):
    import hvac  # installed by vault_walk.sh when missing
    client = hvac.Client(url=addr, token=os.environ["VAULT_TOKEN"])
    kv = client.secrets.kv.v2
    start = time.perf_counter()
    count = 0
    stack = [prefix.strip("/") + "/"]
    while stack:
        folder = stack.pop()
        keys = kv.list_secrets(path=folder, mount_point=mount)["data"]["keys"]
        for key in keys:
            if key.endswith("/"):
                stack.append(folder + key)
            else:
                kv.read_secret_version(path=folder + key, mount_point=mount,
                                       raise_on_deleted_version=True)
                count += 1
    print(count, f"{time.perf_counter() - start:.3f}")


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "seed":
        seed(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif command == "hvac":
        hvac_walk(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
