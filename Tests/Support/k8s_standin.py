#!/usr/bin/env python3
"""A small Kubernetes API stand-in that the real kubectl talks to (tests and the demo).

There is no API server to install on this machine, so Lockstep's Kubernetes module is tested
by running the real kubectl against this server. It implements only what kubectl needs for
the commands Lockstep runs (see DESIGN.md, "Real servers"):

- discovery: /version (minor 1.31, so the /usr/bin/kubectl dispatcher picks kubectl.1.31),
  /api, /apis, /api/v1, /apis/apps/v1, /apis/authorization.k8s.io/v1 (legacy form);
  /openapi/v2 and /openapi/v3 answer 404 (callers pass --validate=false);
- apps/v1 deployments, v1 secrets and v1 configmaps: GET, LIST, POST, PUT, PATCH
  (strategic-merge with Kubernetes' merge keys, merge patch, JSON patch), DELETE;
- LIST + WATCH (chunked JSON lines) with fieldSelector=metadata.name=X and resourceVersion,
  so `kubectl rollout status` works; sendInitialEvents is honoured too;
- generation bumps on every spec change, resourceVersion on every change, 409 Conflict on a
  stale metadata.resourceVersion, Status objects in the Kubernetes format;
- a simulated rollout after each spec change (two steps, `--rollout-delay-ms` apart, or the
  deployment's `lockstep.test/rollout-delay-ms` annotation); annotation
  `lockstep.test/stuck: "true"` makes a rollout never finish and
  `lockstep.test/fail: "ProgressDeadlineExceeded"` makes it fail that way;
- authorization: the user `lockstep-readonly` (`kubectl --as lockstep-readonly`; kubectl sends
  kubeconfig tokens over TLS only, so there is no other way to be someone else over plain
  HTTP) and the bearer token `lockstep-readonly-token` may only get/list/watch; deny rules
  (state key "deny": [{"verb", "resource", "namespace"}], "*" matches all) answer 403;
  SelfSubjectAccessReview answers from the same rules (`kubectl auth can-i`);
- admin endpoints (no auth) under /_standin/: GET requests (every request line so far),
  DELETE requests (clear), GET state, POST deny (append rules), DELETE deny (clear rules),
  POST status-after-get ({"namespace", "name", "times"}: after each of the next `times` GETs
  of that deployment, a status-only write bumps its resourceVersion, as the deployment
  controller does while a rollout runs, so a writer that pinned the version it read meets a
  real 409).

State is written to --state (JSON) after every change so the demo can inspect it, and read
back from it at start. Python 3 standard library only.
"""

import argparse
import base64
import copy
import json
import os
import re
import select
import socket
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

READONLY_USER = "lockstep-readonly"
READONLY_TOKEN = "lockstep-readonly-token"
USER = "lockstep"

RESOURCES = {
    # resource: (group, version, kind, namespaced, verbs)
    "deployments": ("apps", "v1", "Deployment"),
    "secrets": ("", "v1", "Secret"),
    "configmaps": ("", "v1", "ConfigMap"),
}
NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

# Strategic-merge keys of the fields Lockstep touches (from the Kubernetes API types).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "tolerations": None,
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "ownerReferences": "uid",
}


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_body(code, reason, message, details=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.body = status_body(code, reason, message, details)


def qualified(resource):
    group = RESOURCES[resource][0]
    return f"{resource}.{group}" if group else resource


def not_found(resource, name):
    return ApiError(
        404, "NotFound", f'{qualified(resource)} "{name}" not found',
        {"name": name, "group": RESOURCES[resource][0], "kind": resource})


# ---------------------------------------------------------------------------------------
# Patches


def strategic_merge(original, patch, field=None):
    """Applies a strategic-merge patch (the subset of the Kubernetes rules kubectl emits)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(original, dict):
        original = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = copy.deepcopy(original)
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            target = key.split("/", 1)[1]
            if isinstance(result.get(target), list):
                result[target] = [x for x in result[target] if x not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = merge_list(result.get(key), value, key)
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    order = patch.get(f"$setElementOrder/{field}") if field else None
    del order
    return result


def merge_list(original, patch, field):
    key = MERGE_KEYS.get(field)
    if not key or not isinstance(original, list) or not all(isinstance(x, dict) for x in patch):
        if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
            return [copy.deepcopy(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
        return [copy.deepcopy(x) for x in patch]
    if any(x.get("$patch") == "replace" for x in patch):
        return [copy.deepcopy(x) for x in patch if "$patch" not in x]
    result = copy.deepcopy(original)
    for item in patch:
        name = item.get(key)
        index = next(
            (i for i, x in enumerate(result) if isinstance(x, dict) and x.get(key) == name), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
            continue
        if index is None:
            result.append(strategic_merge({}, item, field))
        else:
            result[index] = strategic_merge(result[index], item, field)
    return result


def merge_patch(original, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(document, operations):
    """RFC 6902 JSON patch."""
    doc = copy.deepcopy(document)

    def parent_of(parts):
        node = doc
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def get(parts):
        node = doc
        for part in parts:
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def remove(parts):
        parent = parent_of(parts)
        last = parts[-1]
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)

    def add(parts, value):
        nonlocal doc
        if not parts:
            doc = value
            return
        parent = parent_of(parts)
        last = parts[-1]
        if isinstance(parent, list):
            if last == "-":
                parent.append(value)
            else:
                parent.insert(int(last), value)
        else:
            parent[last] = value

    try:
        for op in operations:
            kind = op.get("op")
            parts = json_pointer(op.get("path", ""))
            if kind == "add":
                add(parts, copy.deepcopy(op["value"]))
            elif kind == "remove":
                remove(parts)
            elif kind == "replace":
                remove(parts)
                add(parts, copy.deepcopy(op["value"]))
            elif kind == "move":
                value = remove(json_pointer(op["from"]))
                add(parts, value)
            elif kind == "copy":
                add(parts, copy.deepcopy(get(json_pointer(op["from"]))))
            elif kind == "test":
                if get(parts) != op.get("value"):
                    raise ApiError(422, "Invalid", f"the test operation on {op['path']} failed")
            else:
                raise ApiError(400, "BadRequest", f"unknown JSON patch operation {kind!r}")
    except (KeyError, IndexError, ValueError, TypeError) as error:
        raise ApiError(422, "Invalid", f"the JSON patch could not be applied: {error}")
    return doc


# ---------------------------------------------------------------------------------------
# The store


class Store:
    def __init__(self, path, rollout_delay_ms):
        self.path = path
        self.rollout_delay = rollout_delay_ms / 1000.0
        self.lock = threading.Condition()
        self.rv = 1
        self.objects = {r: {} for r in RESOURCES}  # resource -> "ns/name" -> object
        self.deny = []
        self.status_after_get = {}  # "ns/name" -> GETs still to be followed by a status write
        self.events = []  # (rv, resource, namespace, type, object)
        self.requests = []
        if path and os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            self.rv = saved.get("resourceVersion", 1)
            for r in RESOURCES:
                self.objects[r] = saved.get("objects", {}).get(r, {})
            self.deny = saved.get("deny", [])

    def save(self):
        if not self.path:
            return
        data = {"resourceVersion": self.rv, "objects": self.objects, "deny": self.deny}
        temp = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(temp, self.path)

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def record(self, resource, namespace, kind, obj):
        """Records a watch event and wakes watchers. Caller holds the lock."""
        self.events.append((int(obj["metadata"]["resourceVersion"]), resource, namespace, kind,
                            copy.deepcopy(obj)))
        if len(self.events) > 5000:
            del self.events[:1000]
        self.save()
        self.lock.notify_all()

    # -- authorization

    def allowed(self, token, verb, resource, namespace):
        if token in (READONLY_USER, READONLY_TOKEN) and verb not in ("get", "list", "watch"):
            return False
        for rule in self.deny:
            if (rule.get("verb", "*") in ("*", verb)
                    and rule.get("resource", "*") in ("*", resource)
                    and rule.get("namespace", "*") in ("*", namespace)):
                return False
        return True

    # -- objects

    def get(self, resource, namespace, name):
        obj = self.objects[resource].get(f"{namespace}/{name}")
        if obj is None:
            raise not_found(resource, name)
        return copy.deepcopy(obj)

    def list(self, resource, namespace, name_selector=None):
        items = []
        for key in sorted(self.objects[resource]):
            ns, name = key.split("/", 1)
            if namespace is not None and ns != namespace:
                continue
            if name_selector is not None and name != name_selector:
                continue
            items.append(copy.deepcopy(self.objects[resource][key]))
        return items

    def normalise(self, resource, obj):
        group, version, kind = RESOURCES[resource]
        obj["apiVersion"] = f"{group}/{version}" if group else version
        obj["kind"] = kind
        if resource == "secrets":
            data = obj.get("data") or {}
            for key, value in (obj.pop("stringData", None) or {}).items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            for key, value in data.items():
                try:
                    base64.b64decode(value, validate=True)
                except Exception:
                    raise ApiError(
                        422, "Invalid",
                        f'Secret "{obj["metadata"].get("name")}" is invalid: data[{key}]: '
                        "Invalid value: illegal base64 data")
            obj["data"] = data
            obj.setdefault("type", "Opaque")
        if resource == "deployments":
            spec = obj.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("strategy", {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": "25%", "maxUnavailable": "25%"}})
            template = spec.setdefault("template", {})
            template.setdefault("metadata", {})
            pod = template.setdefault("spec", {})
            pod.setdefault("containers", [])
            for container in pod.get("containers", []):
                if not container.get("name"):
                    raise ApiError(422, "Invalid", f'Deployment.apps "{obj["metadata"].get("name")}" '
                                   "is invalid: spec.template.spec.containers[0].name: Required value")
        return obj

    def create(self, resource, namespace, obj, dry_run=False):
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = meta["generateName"] + uuid.uuid4().hex[:5]
            meta["name"] = name
        if not name:
            raise ApiError(422, "Invalid", f"{RESOURCES[resource][2]} is invalid: metadata.name: Required value")
        if meta.get("namespace", namespace) != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match "
                           "the namespace sent on the request")
        if not NAME.fullmatch(name) or len(name) > 253:
            raise ApiError(
                422, "Invalid",
                f'{RESOURCES[resource][2]} "{name}" is invalid: metadata.name: Invalid value: '
                f'"{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                "alphanumeric characters, '-' or '.'",
                {"name": name, "group": RESOURCES[resource][0], "kind": RESOURCES[resource][2]})
        key = f"{namespace}/{name}"
        if key in self.objects[resource]:
            raise ApiError(409, "AlreadyExists", f'{qualified(resource)} "{name}" already exists',
                           {"name": name, "group": RESOURCES[resource][0], "kind": resource})
        obj = self.normalise(resource, obj)
        meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta.pop("resourceVersion", None)
        if resource == "deployments":
            meta["generation"] = 1
            obj["status"] = {}
        if dry_run:
            meta["resourceVersion"] = str(self.rv)
            return obj
        meta["resourceVersion"] = self.next_rv()
        self.objects[resource][key] = obj
        self.record(resource, namespace, "ADDED", obj)
        if resource == "deployments":
            self.schedule_rollout(namespace, name, 1)
        return copy.deepcopy(obj)

    def update(self, resource, namespace, name, new, dry_run=False, subresource=None):
        """Stores `new` in place of the current object (PUT and the result of PATCH)."""
        current = self.get(resource, namespace, name)
        meta = new.setdefault("metadata", {})
        sent_rv = meta.get("resourceVersion")
        if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409, "Conflict",
                f'Operation cannot be fulfilled on {qualified(resource)} "{name}": the object has '
                "been modified; please apply your changes to the latest version and try again",
                {"name": name, "group": RESOURCES[resource][0], "kind": resource})
        if meta.get("name", name) != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        new = self.normalise(resource, new)
        for field in ("uid", "creationTimestamp", "namespace"):
            meta[field] = current["metadata"].get(field)
        meta["name"] = name
        if resource == "deployments":
            if subresource == "status":
                new["spec"] = current["spec"]
            else:
                new["status"] = current.get("status", {})
            generation = current["metadata"].get("generation", 1)
            if new.get("spec") != current.get("spec"):
                generation += 1
            meta["generation"] = generation
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        if new == current:
            return current  # A no-op changes nothing, as in Kubernetes.
        if dry_run:
            meta["resourceVersion"] = current["metadata"]["resourceVersion"]
            return new
        meta["resourceVersion"] = self.next_rv()
        self.objects[resource][f"{namespace}/{name}"] = new
        self.record(resource, namespace, "MODIFIED", new)
        if resource == "deployments" and meta["generation"] != current["metadata"].get("generation"):
            self.schedule_rollout(namespace, name, meta["generation"])
        return copy.deepcopy(new)

    def touch_status_after_get(self, namespace, name):
        """A status-only write after a GET, if one was asked for. Caller holds the lock."""
        key = f"{namespace}/{name}"
        remaining = self.status_after_get.get(key, 0)
        current = self.objects["deployments"].get(key)
        if remaining <= 0 or current is None:
            return
        self.status_after_get[key] = remaining - 1
        current.setdefault("status", {})["lastStatusWrite"] = now_rfc3339()
        current["metadata"]["resourceVersion"] = self.next_rv()
        self.record("deployments", namespace, "MODIFIED", current)

    def delete(self, resource, namespace, name):
        obj = self.get(resource, namespace, name)
        del self.objects[resource][f"{namespace}/{name}"]
        obj["metadata"]["resourceVersion"] = self.next_rv()
        self.record(resource, namespace, "DELETED", obj)
        return obj

    # -- the simulated rollout

    def schedule_rollout(self, namespace, name, generation):
        obj = self.objects["deployments"].get(f"{namespace}/{name}")
        annotations = obj["metadata"].get("annotations") or {}
        delay = self.rollout_delay
        if "lockstep.test/rollout-delay-ms" in annotations:
            delay = int(annotations["lockstep.test/rollout-delay-ms"]) / 1000.0
        stuck = annotations.get("lockstep.test/stuck") == "true"
        fail = annotations.get("lockstep.test/fail")

        def step(phase):
            with self.lock:
                current = self.objects["deployments"].get(f"{namespace}/{name}")
                if current is None or current["metadata"].get("generation") != generation:
                    return
                replicas = current["spec"].get("replicas", 1)
                status = current.setdefault("status", {})
                status["observedGeneration"] = generation
                status["replicas"] = replicas
                stamp = now_rfc3339()
                if phase == 1 or stuck:
                    status["updatedReplicas"] = 0
                    status["readyReplicas"] = replicas
                    status["availableReplicas"] = replicas
                    progressing = {"type": "Progressing", "status": "True",
                                   "reason": "ReplicaSetUpdated",
                                   "message": f'ReplicaSet "{name}" is progressing.'}
                    if fail == "ProgressDeadlineExceeded":
                        progressing = {"type": "Progressing", "status": "False",
                                       "reason": "ProgressDeadlineExceeded",
                                       "message": f'ReplicaSet "{name}" has timed out progressing.'}
                else:
                    status["updatedReplicas"] = replicas
                    status["readyReplicas"] = replicas
                    status["availableReplicas"] = replicas
                    progressing = {"type": "Progressing", "status": "True",
                                   "reason": "NewReplicaSetAvailable",
                                   "message": f'ReplicaSet "{name}" has successfully progressed.'}
                available = {"type": "Available", "status": "True",
                             "reason": "MinimumReplicasAvailable",
                             "message": "Deployment has minimum availability."}
                for condition in (available, progressing):
                    condition["lastUpdateTime"] = stamp
                    condition["lastTransitionTime"] = stamp
                status["conditions"] = [available, progressing]
                current["metadata"]["resourceVersion"] = self.next_rv()
                self.record("deployments", namespace, "MODIFIED", current)
            if phase == 1 and not stuck and fail is None:
                threading.Timer(delay / 2, step, args=(2,)).start()

        threading.Timer(delay / 2, step, args=(1,)).start()


# ---------------------------------------------------------------------------------------
# Discovery documents


def api_resource_list(group_version, resources):
    entries = []
    for name in resources:
        group, version, kind = RESOURCES[name]
        entries.append({
            "name": name, "singularName": kind.lower(), "namespaced": True, "kind": kind,
            "verbs": VERBS, "shortNames": {"deployments": ["deploy"], "configmaps": ["cm"]}.get(name, []),
            "categories": ["all"] if name == "deployments" else [],
        })
        if name == "deployments":
            for sub in ("status", "scale"):
                entries.append({"name": f"deployments/{sub}", "singularName": "", "namespaced": True,
                                "kind": "Scale" if sub == "scale" else "Deployment",
                                "group": "autoscaling" if sub == "scale" else None,
                                "version": "v1" if sub == "scale" else None,
                                "verbs": ["get", "patch", "update"]})
                entries[-1] = {k: v for k, v in entries[-1].items() if v is not None}
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": entries}


DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
        {"name": "authorization.k8s.io",
         "versions": [{"groupVersion": "authorization.k8s.io/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "authorization.k8s.io/v1", "version": "v1"}},
    ]},
    "/api/v1": api_resource_list("v1", ["secrets", "configmaps"]),
    "/apis/apps/v1": api_resource_list("apps/v1", ["deployments"]),
    "/apis/authorization.k8s.io/v1": {
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "authorization.k8s.io/v1",
        "resources": [{"name": "selfsubjectaccessreviews", "singularName": "selfsubjectaccessreview",
                       "namespaced": False, "kind": "SelfSubjectAccessReview", "verbs": ["create"]}]},
    "/version": {"major": "1", "minor": "31", "gitVersion": "v1.31.0-lockstep-standin",
                 "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                 "buildDate": "2024-08-13T00:00:00Z", "goVersion": "go1.22.5", "compiler": "gc",
                 "platform": "linux/amd64"},
}


# externalsecrets.external-secrets.io, for drift's `externalsecret:k8s:` source only: objects
# kept apart from the store, created by POST and read by GET (external_secrets_answer).
EXTERNAL_SECRETS = {}
EXTERNAL_SECRETS_GROUP = {
    "name": "external-secrets.io", "versions": [{"groupVersion": "external-secrets.io/v1", "version": "v1"}],
    "preferredVersion": {"groupVersion": "external-secrets.io/v1", "version": "v1"}}
EXTERNAL_SECRETS_RESOURCES = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "external-secrets.io/v1",
    "resources": [{"name": "externalsecrets", "singularName": "externalsecret", "namespaced": True,
                   "kind": "ExternalSecret", "shortNames": ["es"], "verbs": ["create", "get", "list"]}]}


def with_external_secrets(documents):
    """Discovery documents with the external-secrets.io group added."""
    documents["/apis"]["groups"] = documents["/apis"]["groups"] + [EXTERNAL_SECRETS_GROUP]
    documents["/apis/external-secrets.io/v1"] = EXTERNAL_SECRETS_RESOURCES
    return documents


# Whichever form discovery has (a DISCOVERY table, or a discovery() function building it).
if "DISCOVERY" in globals():
    with_external_secrets(DISCOVERY)
if "discovery" in globals():
    _discovery_without_external_secrets = discovery

    def discovery(*arguments):
        return with_external_secrets(_discovery_without_external_secrets(*arguments))


def external_secrets_answer(handler, path, body):
    """GET (list or one) and POST of ExternalSecret objects; names checked as the API does."""
    parts = path.strip("/").split("/")
    if len(parts) not in (6, 7) or parts[3] != "namespaces" or parts[5] != "externalsecrets":
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    namespace = parts[4]
    name_rule = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    store = handler.store
    with store.lock:
        if handler.command == "POST" and len(parts) == 6:
            obj = json.loads(body or b"{}")
            name = obj.get("metadata", {}).get("name", "")
            if obj.get("kind") != "ExternalSecret" or not name_rule.match(name) or len(name) > 253:
                raise ApiError(422, "Invalid", "ExternalSecret.external-secrets.io is invalid")
            if (namespace, name) in EXTERNAL_SECRETS:
                raise ApiError(409, "AlreadyExists", f'externalsecrets.external-secrets.io "{name}" already exists')
            obj["metadata"]["namespace"] = namespace
            obj["metadata"]["resourceVersion"] = str(store.next_rv())
            EXTERNAL_SECRETS[(namespace, name)] = obj
            return handler.send_json(201, obj)
        if handler.command != "GET":
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
        if len(parts) == 7:
            obj = EXTERNAL_SECRETS.get((namespace, parts[6]))
            if obj is None:
                raise ApiError(404, "NotFound", f'externalsecrets.external-secrets.io "{parts[6]}" not found',
                               {"name": parts[6], "group": "external-secrets.io", "kind": "externalsecrets"})
            return handler.send_json(200, obj)
        items = [o for (ns, _), o in sorted(EXTERNAL_SECRETS.items()) if ns == namespace]
        return handler.send_json(200, {"kind": "ExternalSecretList", "apiVersion": "external-secrets.io/v1",
                                       "metadata": {"resourceVersion": str(store.rv)}, "items": items})

def table(resource, items):
    """A meta.k8s.io/v1 Table, what `kubectl get` asks for."""
    if resource == "deployments":
        columns = ["Name", "Ready", "Up-to-date", "Available", "Age"]
    elif resource == "secrets":
        columns = ["Name", "Type", "Data", "Age"]
    else:
        columns = ["Name", "Data", "Age"]
    rows = []
    for item in items:
        name = item["metadata"]["name"]
        if resource == "deployments":
            st = item.get("status", {})
            cells = [name, f'{st.get("readyReplicas", 0)}/{item["spec"].get("replicas", 1)}',
                     st.get("updatedReplicas", 0), st.get("availableReplicas", 0), "1m"]
        elif resource == "secrets":
            cells = [name, item.get("type", "Opaque"), len(item.get("data") or {}), "1m"]
        else:
            cells = [name, len(item.get("data") or {}), "1m"]
        rows.append({"cells": cells, "object": {"kind": "PartialObjectMetadata",
                                               "apiVersion": "meta.k8s.io/v1",
                                               "metadata": item["metadata"]}})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": [{"name": c, "type": "string", "format": "name" if c == "Name" else "",
                                   "description": "", "priority": 0} for c in columns],
            "rows": rows}


# ---------------------------------------------------------------------------------------
# HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lockstep-k8s-standin"
    store: Store = None

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (now_rfc3339(), fmt % args))

    def send_json(self, code, body, extra_headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/") or "/"
        body = self.read_body()
        if not path.startswith("/_standin"):
            with self.store.lock:
                self.store.requests.append({"method": self.command, "path": self.path,
                                            "userAgent": self.headers.get("User-Agent", "")})
        try:
            if path.startswith("/_standin"):
                return self.admin(path, body)
            if path in DISCOVERY:
                return self.send_json(200, DISCOVERY[path])
            if path.startswith("/openapi"):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if path.startswith("/apis/external-secrets.io/v1/"):
                return external_secrets_answer(self, path, body)
            token = self.token()
            if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" and self.command == "POST":
                return self.access_review(token, body)
            return self.resource(path, query, token, body)
        except ApiError as error:
            self.send_json(error.code, error.body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except json.JSONDecodeError as error:
            self.send_json(400, status_body(400, "BadRequest", f"the request body is not JSON: {error}"))

    def token(self):
        """Who is asking. kubectl sends kubeconfig credentials over TLS only, so over this plain
        HTTP endpoint everyone is the same user; `kubectl --as lockstep-readonly` (the
        Impersonate-User header) is the read-only one."""
        user = self.headers.get("Impersonate-User", "")
        if user == READONLY_USER:
            return READONLY_USER
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth.startswith("Bearer ") else USER

    def admin(self, path, body):
        store = self.store
        with store.lock:
            if path == "/_standin/requests" and self.command == "GET":
                return self.send_json(200, store.requests)
            if path == "/_standin/requests" and self.command == "DELETE":
                store.requests.clear()
                return self.send_json(200, {})
            if path == "/_standin/state":
                return self.send_json(200, {"resourceVersion": store.rv, "objects": store.objects,
                                            "deny": store.deny})
            if path == "/_standin/deny" and self.command == "POST":
                store.deny.extend(json.loads(body or b"[]"))
                store.save()
                return self.send_json(200, store.deny)
            if path == "/_standin/status-after-get" and self.command == "POST":
                rule = json.loads(body or b"{}")
                key = f'{rule["namespace"]}/{rule["name"]}'
                store.status_after_get[key] = int(rule.get("times", 1))
                return self.send_json(200, {key: store.status_after_get[key]})
            if path == "/_standin/deny" and self.command == "DELETE":
                store.deny.clear()
                store.save()
                return self.send_json(200, [])
        raise ApiError(404, "NotFound", "unknown admin endpoint")

    def access_review(self, token, body):
        review = json.loads(body or b"{}")
        attributes = review.get("spec", {}).get("resourceAttributes", {})
        verb = attributes.get("verb", "")
        resource = attributes.get("resource", "")
        namespace = attributes.get("namespace", "") or "*"
        with self.store.lock:
            allowed = resource in RESOURCES and self.store.allowed(token, verb, resource, namespace)
        review["status"] = {"allowed": allowed}
        if not allowed:
            review["status"]["reason"] = "denied by the stand-in's rules"
        review.setdefault("apiVersion", "authorization.k8s.io/v1")
        review.setdefault("kind", "SelfSubjectAccessReview")
        review.setdefault("metadata", {})["creationTimestamp"] = None
        self.send_json(201, review)

    def parse_path(self, path):
        parts = path.strip("/").split("/")
        # /api/v1/namespaces/NS/RES[/NAME[/SUB]]  or  /apis/G/V/namespaces/NS/RES[/NAME[/SUB]]
        if parts[0] == "api":
            rest = parts[2:]
            group = ""
        elif parts[0] == "apis" and len(parts) >= 3:
            rest = parts[3:]
            group = parts[1]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            namespace = rest[1]
            rest = rest[2:]
        if not rest:
            if namespace is not None and self.command == "GET":
                return "namespace", namespace, None, None
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        resource = rest[0]
        if resource not in RESOURCES or RESOURCES[resource][0] != group:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        return resource, namespace, name, sub

    def resource(self, path, query, token, body):
        resource, namespace, name, sub = self.parse_path(path)
        store = self.store
        if resource == "namespace":
            # Every namespace exists implicitly.
            return self.send_json(200, {"kind": "Namespace", "apiVersion": "v1",
                                        "metadata": {"name": namespace},
                                        "status": {"phase": "Active"}})
        verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}[self.command]
        if verb == "get" and name is None:
            verb = "watch" if query.get("watch") in ("true", "1") else "list"
        if sub not in (None, "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        with store.lock:
            allowed = store.allowed(token, verb, resource, namespace or "*")
        if not allowed:
            group = RESOURCES[resource][0]
            target = f'{qualified(resource)} "{name}"' if name else qualified(resource)
            where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            raise ApiError(403, "Forbidden",
                           f'{target} is forbidden: User "{USER}" cannot {verb} resource '
                           f'"{resource}" in API group "{group}"{where}',
                           {"name": name or "", "group": group, "kind": resource})
        dry_run = query.get("dryRun") == "All"
        if verb == "watch":
            return self.watch(resource, namespace, query)
        with store.lock:
            if verb == "list":
                selector = None
                for term in (query.get("fieldSelector") or "").split(","):
                    if term.startswith("metadata.name="):
                        selector = term.split("=", 1)[1]
                items = store.list(resource, namespace, selector)
                if "as=Table" in self.headers.get("Accept", ""):
                    return self.send_json(200, table(resource, items))
                group, version, kind = RESOURCES[resource]
                return self.send_json(200, {
                    "kind": f"{kind}List", "apiVersion": f"{group}/{version}" if group else version,
                    "metadata": {"resourceVersion": str(store.rv)}, "items": items})
            if verb == "get":
                obj = store.get(resource, namespace, name)
                if resource == "deployments":
                    store.touch_status_after_get(namespace, name)
                if "as=Table" in self.headers.get("Accept", ""):
                    return self.send_json(200, table(resource, [obj]))
                return self.send_json(200, obj)
            if verb == "create":
                obj = store.create(resource, namespace, json.loads(body), dry_run)
                return self.send_json(201, obj)
            if verb == "update":
                obj = store.update(resource, namespace, name, json.loads(body), dry_run, sub)
                return self.send_json(200, obj)
            if verb == "delete":
                obj = store.delete(resource, namespace, name)
                return self.send_json(200, obj)
            # patch
            current = store.get(resource, namespace, name)
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip()
            patch = json.loads(body)
            if content_type == "application/strategic-merge-patch+json":
                new = strategic_merge(current, patch)
            elif content_type == "application/merge-patch+json":
                new = merge_patch(current, patch)
            elif content_type == "application/json-patch+json":
                new = json_patch(current, patch)
            else:
                raise ApiError(415, "UnsupportedMediaType",
                               f"the body of the request was in an unknown format: {content_type}")
            if not isinstance(new, dict):
                raise ApiError(422, "Invalid", "the patch did not produce an object")
            obj = store.update(resource, namespace, name, new, dry_run, sub)
            return self.send_json(200, obj)

    def watch(self, resource, namespace, query):
        store = self.store
        selector = None
        for term in (query.get("fieldSelector") or "").split(","):
            if term.startswith("metadata.name="):
                selector = term.split("=", 1)[1]
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout

        def matches(ev_resource, ev_namespace, obj):
            return (ev_resource == resource and (namespace is None or ev_namespace == namespace)
                    and (selector is None or obj["metadata"]["name"] == selector))

        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def emit(kind, obj):
            line = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()

        with store.lock:
            start_rv = int(query.get("resourceVersion") or 0)
            if query.get("sendInitialEvents") == "true" or start_rv == 0:
                for obj in store.list(resource, namespace, selector):
                    emit("ADDED", obj)
                if query.get("sendInitialEvents") == "true":
                    group, version, kind = RESOURCES[resource]
                    emit("BOOKMARK", {"kind": kind, "apiVersion": f"{group}/{version}" if group else version,
                                      "metadata": {"resourceVersion": str(store.rv), "annotations": {
                                          "k8s.io/initial-events-end": "true"}}})
                cursor = store.rv
            else:
                cursor = start_rv
        try:
            while time.monotonic() < deadline:
                with store.lock:
                    pending = [e for e in store.events if e[0] > cursor]
                    if not pending:
                        store.lock.wait(0.5)
                        pending = [e for e in store.events if e[0] > cursor]
                for rv, ev_resource, ev_namespace, kind, obj in pending:
                    cursor = max(cursor, rv)
                    if matches(ev_resource, ev_namespace, obj):
                        emit(kind, obj)
                if self.client_gone():
                    return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def client_gone(self):
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state", default=None, help="JSON file the state is kept in")
    parser.add_argument("--rollout-delay-ms", type=int, default=200,
                        help="how long a simulated rollout takes")
    args = parser.parse_args()
    Handler.store = Store(args.state, args.rollout_delay_ms)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    sys.stderr.write(f"k8s stand-in listening on http://{args.host}:{args.port}\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
