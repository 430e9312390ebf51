#!/usr/bin/env python3
"""A small Kubernetes API stand-in that the real kubectl talks to (tests and the demo).

There is no API server to install on this machine, so Lockstep's Kubernetes module is tested
by running the real kubectl against this server. It implements only what kubectl needs for
the commands Lockstep runs (DESIGN.md, "Real servers"), and for those it must refuse what
kube-apiserver refuses: a lenient stand-in proves nothing about a real cluster. Every rule
below cites the kube-apiserver code or document it follows.

- TLS (`--tls-dir`, a self-signed certificate for 127.0.0.1 made with openssl when absent)
  with bearer tokens: kubectl sends kubeconfig credentials (a token, or one an exec plugin
  prints) only over TLS. A request without a known token answers 401, as kube-apiserver with
  `--anonymous-auth=false`; only /version, /healthz, /livez and /readyz are public (the
  `system:public-info-viewer` role). Without `--tls-dir` the server speaks plain HTTP and
  every request is user `lockstep` (kept for quick manual use; tests and the stack use TLS).
- discovery: /version, /api, /apis, /api/v1, /apis/apps/v1, /apis/authorization.k8s.io/v1;
  /openapi/v2|v3 answer 404 (callers pass --validate=false). The minor reported by /version
  decides which `kubectl.1.N` the /usr/bin/kubectl dispatcher runs: a server URL with the
  path prefix `/_as/1.N` (e.g. https://127.0.0.1:PORT/_as/1.28) reports 1.N, so one
  stand-in serves every kubectl minor at once; `/_as/1.N,no-authz` also hides the
  authorization.k8s.io API, as an API server without it would;
- namespaces (`default`, `kube-system`, `kube-public`, `kube-node-lease` exist at start;
  others are created with POST /api/v1/namespaces), apps/v1 deployments, statefulsets and
  daemonsets, v1 secrets and v1 configmaps, and external-secrets.io/v1 externalsecrets (a
  custom resource: no strategic merge, 415 as apiextensions-apiserver answers): GET, LIST,
  POST, PUT, PATCH (strategic merge with Kubernetes' merge keys, merge patch, JSON patch),
  DELETE, dryRun=All, all in the one locked store;
- validation of every field Lockstep writes or reads (see `validate_*`), each rule with its
  source in kube-apiserver: 422 Invalid with `details.causes`, as kubectl prints them;
- LIST + WATCH (chunked JSON lines) with fieldSelector=metadata.name=X and resourceVersion,
  so `kubectl rollout status` works; sendInitialEvents is honoured too;
- generation bumps on every spec change, resourceVersion on every change, 409 Conflict on a
  stale metadata.resourceVersion, Status objects in the Kubernetes format;
- RBAC (allow rules: verbs, apiGroups, resources, resourceNames, namespaces) per user,
  impersonation only with the `impersonate` verb on `users`, SelfSubjectAccessReview from the
  same rules (`kubectl auth can-i`), and a deny list standing for a webhook authorizer's
  "deny" decision;
- rollouts as the deployment controller reports them, one phase per status write:
  spec not yet observed, 0 of N updated, surge (1 updated, N+1 pods), old pods pending
  termination, updated pods not yet available, complete. A test can hold a deployment's
  rollouts and step them phase by phase, release them, or fail one with
  ProgressDeadlineExceeded (POST /_standin/rollout); `spec.paused` stops a rollout after
  the spec is observed, as the controller does. Unheld rollouts advance every
  `--rollout-delay-ms`/5 (or the deployment's `lockstep.test/rollout-delay-ms`/5).
  StatefulSets and DaemonSets roll out the same way with their controllers' status fields
  (one pod at a time; a StatefulSet `partition` or an `OnDelete` strategy holds pods back,
  as kubectl's status viewers then report); a DaemonSet runs on 2 nodes (annotation
  `lockstep.test/nodes`); the statefulset spec fields kube-apiserver keeps immutable are;
- an ESO-like controller (EsoController, POST /_standin/eso): on an ExternalSecret's
  creation, spec change or `force-sync` annotation change it reads the real OpenBao with the
  token it was given and writes the target Secret, owned by the ExternalSecret.

Admin endpoints (no auth) under /_standin/: GET/DELETE requests (request log), GET state,
POST watch-cache ({"size"}: events the watch log keeps, 5000 by default; a watch from a
resourceVersion before the log gets 410 Expired, a watcher that falls behind it is closed),
POST/DELETE deny, POST users ({"name", "token"?, "rules"}), POST rollout
({"namespace", "name", "action": hold|step|release|fail, "resource"?: deployments|
statefulsets|daemonsets}), POST/GET eso ({"stores": {NAME: {"address", "token", "mount"}},
"delayMs"}), POST status-after-get
({"namespace", "name", "times"}: after each of the next `times` GETs of that deployment, a
status-only write bumps its resourceVersion, as the deployment controller does while a
rollout runs, so a writer that pinned the version it read meets a real 409).

State is written to --state (JSON) after every change so the demo can inspect it, and read
back from it at start. Python 3 standard library only (and the openssl command for TLS).
"""

import argparse
import base64
import copy
import json
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

USER = "lockstep"
READONLY_USER = "lockstep-readonly"
# The /usr/bin/kubectl dispatcher is itself kubectl 1.32: against a 1.32 server it runs the
# command itself, against any other minor it starts kubectl.1.N as well (two Go start-ups,
# 0.12 s of CPU per call instead of 0.07 s; Benchmarks/test_harness_cpu.sh). Tests that
# need each minor ask for it (/_as/1.N).
DEFAULT_MINOR = 32
SUPPORTED_MINORS = range(27, 34)

# The users every stand-in starts with: `lockstep` is bound to cluster-admin, the
# read-only one to the built-in `view` role (get/list/watch).
DEFAULT_USERS = {
    USER: {"token": "lockstep-local-token",
           "rules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]},
    READONLY_USER: {"token": "lockstep-readonly-token",
                    "rules": [{"verbs": ["get", "list", "watch"], "apiGroups": ["*"],
                               "resources": ["*"]}]},
}

RESOURCES = {
    # resource: (group, version, kind, namespaced)
    "deployments": ("apps", "v1", "Deployment", True),
    "statefulsets": ("apps", "v1", "StatefulSet", True),
    "daemonsets": ("apps", "v1", "DaemonSet", True),
    "secrets": ("", "v1", "Secret", True),
    "configmaps": ("", "v1", "ConfigMap", True),
    "namespaces": ("", "v1", "Namespace", False),
    # A custom resource (External Secrets Operator's CRD), kept in the same locked store;
    # the stand-in's ESO-like controller (EsoController) syncs it to a Secret.
    "externalsecrets": ("external-secrets.io", "v1", "ExternalSecret", True),
}
# The workload kinds whose pod template Lockstep restarts; each has a rollout.
WORKLOADS = ("deployments", "statefulsets", "daemonsets")
# Custom resources have no strategic-merge patch (apiextensions-apiserver answers 415).
CUSTOM_RESOURCES = ("externalsecrets",)
INITIAL_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]

# apimachinery/pkg/util/validation/validation.go: IsDNS1123Label (≤ 63) and
# IsDNS1123Subdomain (≤ 253).
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# validation.go IsEnvVarName (kube ≤ 1.33): "a valid environment variable name must consist
# of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit".
ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
# validation.go IsConfigMapKey (Secret and ConfigMap keys).
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
# validation.go IsQualifiedName / IsValidLabelValue (selector and template labels).
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
# pkg/apis/core/validation: MaxSecretSize (1 MiB for all of data).
MAX_SECRET_SIZE = 1024 * 1024

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


def qualified_kind(resource):
    group, _, kind, _ = RESOURCES[resource]
    return f"{kind}.{group}" if group else kind


def not_found(resource, name):
    return ApiError(
        404, "NotFound", f'{qualified(resource)} "{name}" not found',
        {"name": name, "group": RESOURCES[resource][0], "kind": resource})


# ---------------------------------------------------------------------------------------
# Validation: field errors as apimachinery/pkg/util/validation/field/errors.go words them.


class FieldErrors:
    def __init__(self):
        self.causes = []

    def add(self, reason, field, body):
        self.causes.append({"reason": reason, "field": field, "message": body})

    def required(self, field, detail=""):
        self.add("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))

    def invalid(self, field, value, detail):
        shown = json.dumps(value) if isinstance(value, (str, int)) else repr(value)
        self.add("FieldValueInvalid", field, f"Invalid value: {shown}: {detail}")

    def forbidden(self, field, detail):
        self.add("FieldValueForbidden", field, f"Forbidden: {detail}")

    def duplicate(self, field, value):
        self.add("FieldValueDuplicate", field, f"Duplicate value: {json.dumps(value)}")

    def raise_if_any(self, resource, name):
        """422 Invalid, as apimachinery/pkg/api/errors.NewInvalid builds it."""
        if not self.causes:
            return
        messages = [f'{c["field"]}: {c["message"]}' for c in self.causes]
        joined = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
        raise ApiError(
            422, "Invalid", f'{qualified_kind(resource)} "{name}" is invalid: {joined}',
            {"name": name, "group": RESOURCES[resource][0], "kind": RESOURCES[resource][2],
             "causes": self.causes})


def check_subdomain(errors, field, value):
    """IsDNS1123Subdomain: object names of Secrets, ConfigMaps and Deployments
    (ValidateSecretName, ValidateConfigMapName, apps ValidateDeploymentName)."""
    if not isinstance(value, str) or len(value) > 253 or not DNS1123_SUBDOMAIN.fullmatch(value):
        errors.invalid(field, value, "a lowercase RFC 1123 subdomain must consist of lower case "
                       "alphanumeric characters, '-' or '.', and must start and end with an "
                       "alphanumeric character (e.g. 'example.com', regex used for validation is "
                       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def check_label(errors, field, value):
    """IsDNS1123Label: namespace names (ValidateNamespaceName) and container names
    (validateContainers: "containers[i].name")."""
    if not isinstance(value, str) or len(value) > 63 or not DNS1123_LABEL.fullmatch(value):
        errors.invalid(field, value, "a lowercase RFC 1123 label must consist of lower case "
                       "alphanumeric characters or '-', and must start and end with an "
                       "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                       "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")


def check_env_name(errors, field, value):
    """core/validation ValidateEnv → IsEnvVarName (also envFrom[].prefix + key)."""
    if not isinstance(value, str) or not ENV_VAR_NAME.fullmatch(value):
        errors.invalid(field, value, "a valid environment variable name must consist of "
                       "alphabetic characters, digits, '_', '-', or '.', and must not start with "
                       "a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex "
                       "used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')")


def check_config_key(errors, field, value):
    """IsConfigMapKey: keys of Secret and ConfigMap data, and secretKeyRef/configMapKeyRef
    keys: at most 253 characters of [-._a-zA-Z0-9], not "." or "..", not starting with ".."."""
    if (not isinstance(value, str) or len(value) > 253 or not CONFIG_KEY.fullmatch(value)
            or value in (".", "..") or value.startswith("..")):
        errors.invalid(field, value, "a valid config key must consist of alphanumeric "
                       "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                       "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")


def check_labels(errors, field, labels):
    """ValidateLabels: qualified-name keys (optional DNS-1123 subdomain prefix), values ≤ 63."""
    if labels is None:
        return
    if not isinstance(labels, dict):
        errors.invalid(field, labels, "must be a map of strings")
        return
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if (prefix and not DNS1123_SUBDOMAIN.fullmatch(prefix)) or len(name) > 63 \
                or not QUALIFIED_NAME.fullmatch(name):
            errors.invalid(field, key, "name part must consist of alphanumeric characters, '-', "
                           "'_' or '.', and must start and end with an alphanumeric character")
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.fullmatch(value):
            errors.invalid(f"{field}", value, "a valid label must be an empty string or consist "
                           "of alphanumeric characters, '-', '_' or '.', and must start and end "
                           "with an alphanumeric character")


def validate_metadata(errors, resource, meta, namespace):
    name = meta.get("name")
    if not name:
        errors.required("metadata.name", "name or generateName is required")
    elif resource == "namespaces":
        check_label(errors, "metadata.name", name)
    else:
        check_subdomain(errors, "metadata.name", name)
    check_labels(errors, "metadata.labels", meta.get("labels"))
    if meta.get("annotations") is not None and not isinstance(meta.get("annotations"), dict):
        errors.invalid("metadata.annotations", meta.get("annotations"), "must be a map of strings")


def validate_data_keys(errors, field, data):
    """core/validation ValidateSecret / ValidateConfigMap: every key IsConfigMapKey."""
    for key in data or {}:
        check_config_key(errors, f"{field}[{key}]", key)


def validate_secret(errors, obj, old=None):
    """core/validation ValidateSecret and ValidateSecretUpdate."""
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        errors.invalid("data", data, "must be a map")
        return
    validate_data_keys(errors, "data", data)
    total = 0
    for key, value in data.items():
        try:
            total += len(base64.b64decode(value, validate=True))
        except Exception:
            errors.invalid(f"data[{key}]", "<value omitted>", "illegal base64 data")
    if total > MAX_SECRET_SIZE:
        errors.add("FieldValueTooLong", "data", f"Too long: must have at most {MAX_SECRET_SIZE} bytes")
    kind = obj.get("type")
    if kind == "kubernetes.io/basic-auth" and not ({"username", "password"} & set(data)):
        errors.required("data[username]")
    if kind == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in data:
                errors.required(f"data[{key}]")
    if old is None:
        return
    # ValidateSecretUpdate: "type" is immutable; a Secret made immutable keeps its data and
    # stays immutable.
    if obj.get("type") != old.get("type"):
        errors.invalid("type", obj.get("type"), "field is immutable")
    if old.get("immutable") is True:
        if obj.get("immutable") is not True:
            errors.forbidden("immutable", "field is immutable when `immutable` is set")
        if (obj.get("data") or {}) != (old.get("data") or {}):
            errors.forbidden("data", "field is immutable when `immutable` is set")


def validate_configmap(errors, obj, old=None):
    """core/validation ValidateConfigMap: keys of data and binaryData, not in both."""
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    validate_data_keys(errors, "data", data)
    validate_data_keys(errors, "binaryData", binary)
    for key in set(data) & set(binary):
        errors.duplicate(f"data[{key}]", key)
    if old is not None and old.get("immutable") is True:
        if obj.get("immutable") is not True:
            errors.forbidden("immutable", "field is immutable when `immutable` is set")
        if data != (old.get("data") or {}) or binary != (old.get("binaryData") or {}):
            errors.forbidden("data", "field is immutable when `immutable` is set")


def validate_env(errors, field, env):
    """core/validation validateEnv and validateEnvVarValueFrom."""
    for i, var in enumerate(env or []):
        path = f"{field}[{i}]"
        if not isinstance(var, dict):
            errors.invalid(path, var, "must be an object")
            continue
        if not var.get("name"):
            errors.required(f"{path}.name")
        else:
            check_env_name(errors, f"{path}.name", var["name"])
        source = var.get("valueFrom")
        if source is None:
            continue
        kinds = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
                 if source.get(k) is not None]
        if var.get("value"):
            # validateEnvVarValueFrom: "may not be specified when `value` is not empty".
            errors.invalid(f"{path}.valueFrom", "", "may not be specified when `value` is not empty")
        if not kinds:
            errors.invalid(f"{path}.valueFrom", "", "must specify one of: `fieldRef`, "
                           "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`")
        elif len(kinds) > 1:
            errors.invalid(f"{path}.valueFrom", "", "may not have more than one field specified at a time")
        for ref_kind in ("secretKeyRef", "configMapKeyRef"):
            ref = source.get(ref_kind)
            if ref is None:
                continue
            # validateSecretKeySelector / validateConfigMapKeySelector.
            ref_path = f"{path}.valueFrom.{ref_kind}"
            if not ref.get("name"):
                errors.required(f"{ref_path}.name")
            else:
                check_subdomain(errors, f"{ref_path}.name", ref["name"])
            if not ref.get("key"):
                errors.required(f"{ref_path}.key")
            else:
                check_config_key(errors, f"{ref_path}.key", ref["key"])


def validate_env_from(errors, field, sources):
    """core/validation validateEnvFrom: one of configMapRef/secretRef, a valid name, and a
    prefix that is itself a valid env var name."""
    for i, source in enumerate(sources or []):
        path = f"{field}[{i}]"
        refs = [k for k in ("configMapRef", "secretRef") if source.get(k) is not None]
        if len(refs) != 1:
            errors.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")
        for ref_kind in refs:
            name = source[ref_kind].get("name")
            if not name:
                errors.required(f"{path}.{ref_kind}.name")
            else:
                check_subdomain(errors, f"{path}.{ref_kind}.name", name)
        if source.get("prefix"):
            check_env_name(errors, f"{path}.prefix", source["prefix"])


# apps/validation ValidateStatefulSetUpdate: the only spec fields an update may change.
STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
                       "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def validate_update_strategy(errors, resource, spec):
    """apps/validation ValidateStatefulSetUpdateStrategy / ValidateDaemonSetUpdateStrategy."""
    strategy = spec.get("updateStrategy") or {}
    kind = strategy.get("type")
    if kind not in ("RollingUpdate", "OnDelete"):
        errors.add("FieldValueNotSupported", "spec.updateStrategy.type",
                   f'Unsupported value: "{kind}": supported values: "OnDelete", "RollingUpdate"')
        return
    rolling = strategy.get("rollingUpdate")
    if kind == "OnDelete" and rolling is not None:
        errors.invalid("spec.updateStrategy.rollingUpdate", rolling,
                       "only allowed for updateStrategy 'RollingUpdate'")
    if resource == "statefulsets" and rolling is not None:
        partition = rolling.get("partition", 0)
        if not isinstance(partition, int) or partition < 0:
            errors.invalid("spec.updateStrategy.rollingUpdate.partition", partition,
                           "must be greater than or equal to 0")


def validate_workload(errors, obj, old=None, resource="deployments"):
    """apps/validation ValidateDeployment/StatefulSet/DaemonSet(Spec) and their Update
    rules, with the pod template rules of core/validation ValidatePodTemplateSpec for the
    fields Lockstep touches."""
    spec = obj.get("spec") or {}
    if resource != "daemonsets":
        replicas = spec.get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            errors.invalid("spec.replicas", replicas, "must be greater than or equal to 0")
    else:
        validate_update_strategy(errors, resource, spec)
    if resource == "statefulsets":
        validate_update_strategy(errors, resource, spec)
        policy = spec.get("podManagementPolicy")
        if policy not in ("OrderedReady", "Parallel"):
            errors.add("FieldValueNotSupported", "spec.podManagementPolicy",
                       f'Unsupported value: "{policy}": supported values: "OrderedReady", "Parallel"')
        if old is not None:
            before = {k: v for k, v in (old.get("spec") or {}).items() if k not in STATEFULSET_MUTABLE}
            after = {k: v for k, v in spec.items() if k not in STATEFULSET_MUTABLE}
            if before != after:
                errors.forbidden("spec", "updates to statefulset spec for fields other than "
                                 "'replicas', 'ordinals', 'template', 'updateStrategy', "
                                 "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
                                 "are forbidden")
    restart = (((spec.get("template") or {}).get("spec")) or {}).get("restartPolicy", "Always")
    if resource != "deployments" and restart != "Always":
        errors.add("FieldValueNotSupported", "spec.template.spec.restartPolicy",
                   f'Unsupported value: "{restart}": supported values: "Always"')
    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    check_labels(errors, "spec.template.metadata.labels", labels)
    match_labels = (selector or {}).get("matchLabels") or {}
    expressions = (selector or {}).get("matchExpressions") or []
    if selector is None:
        errors.required("spec.selector")
    elif not match_labels and not expressions:
        errors.invalid("spec.selector", selector,
                       f"empty selector is invalid for {RESOURCES[resource][2].lower()}")
    else:
        check_labels(errors, "spec.selector.matchLabels", match_labels)
        # "`selector` does not match template `labels`".
        if not selector_matches(match_labels, expressions, labels):
            errors.invalid("spec.template.metadata.labels", labels,
                           "`selector` does not match template `labels`")
    if old is not None and (old.get("spec") or {}).get("selector") != selector:
        # apps/v1: ValidateDeploymentUpdate, "field is immutable".
        errors.invalid("spec.selector", selector, "field is immutable")
    pod = (spec.get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    if not containers:
        errors.required("spec.template.spec.containers")
    seen = set()
    for i, container in enumerate(containers):
        path = f"spec.template.spec.containers[{i}]"
        name = container.get("name")
        if not name:
            errors.required(f"{path}.name")
        else:
            check_label(errors, f"{path}.name", name)
            if name in seen:
                errors.duplicate(f"{path}.name", name)
            seen.add(name)
        # validateContainers: "image: Required value" (pod templates of workloads).
        if not str(container.get("image") or "").strip():
            errors.required(f"{path}.image")
        validate_env(errors, f"{path}.env", container.get("env"))
        validate_env_from(errors, f"{path}.envFrom", container.get("envFrom"))


def validate_external_secret(errors, obj):
    """The required fields of the ExternalSecret CRD's schema (external-secrets.io/v1):
    data[].secretKey and data[].remoteRef.key; dataFrom entries name what they take."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errors.required("spec")
        return
    for i, entry in enumerate(spec.get("data") or []):
        if not isinstance(entry, dict) or not entry.get("secretKey"):
            errors.required(f"spec.data[{i}].secretKey")
        elif not ((entry.get("remoteRef") or {}).get("key")):
            errors.required(f"spec.data[{i}].remoteRef.key")
    for i, entry in enumerate(spec.get("dataFrom") or []):
        if not isinstance(entry, dict) or not (entry.get("extract") or entry.get("find")):
            errors.required(f"spec.dataFrom[{i}]", "extract or find is required")
    target = spec.get("target") or {}
    if target.get("name"):
        check_subdomain(errors, "spec.target.name", target["name"])


def selector_matches(match_labels, expressions, labels):
    for key, value in match_labels.items():
        if labels.get(key) != value:
            return False
    for expression in expressions:
        key, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


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


def rule_allows(rule, verb, group, resource, namespace, name):
    """One RBAC PolicyRule (plugin/pkg/auth/authorizer/rbac/rbac.go RuleAllows), bound
    cluster-wide (no "namespaces") or by RoleBindings in the listed namespaces. A rule with
    resourceNames never allows a request without a name (create, or list/watch without a
    metadata.name field selector), as in RBAC."""
    def matches(values, value):
        return "*" in values or value in values
    if not matches(rule.get("verbs", []), verb):
        return False
    if not matches(rule.get("apiGroups", ["*"]), group):
        return False
    if not matches(rule.get("resources", []), resource):
        return False
    names = rule.get("resourceNames") or []
    if names and name not in names:
        return False
    scopes = rule.get("namespaces")
    if scopes is not None and namespace not in scopes:
        return False
    return True


# The phases of a rollout, in the order the deployment controller reports them.
PHASES = ["pending", "observed", "surge", "terminating", "unavailable", "complete"]


class Store:
    def __init__(self, path, rollout_delay_ms):
        self.path = path
        self.rollout_delay = rollout_delay_ms / 1000.0
        self.lock = threading.Condition()
        self.rv = 1
        self.objects = {r: {} for r in RESOURCES}  # resource -> "ns/name" -> object
        self.deny = []
        self.users = copy.deepcopy(DEFAULT_USERS)
        self.status_after_get = {}  # "ns/name" -> GETs still to be followed by a status write
        self.held = set()  # "ns/name" of deployments whose rollouts advance only when told
        self.rollouts = {}  # "ns/name" -> {"generation", "phase", "failed"}
        self.events = []  # (rv, resource, namespace, type, object)
        self.events_trimmed = 0  # events dropped from the front: events[i] is number trimmed+i
        self.event_log_size = 5000  # kube-apiserver's watch cache; POST /_standin/watch-cache
        self.trimmed_rv = 0  # the resourceVersion of the last event dropped
        self.eso = None  # the ESO-like controller, once configured (POST /_standin/eso)
        self.requests = []
        if path and os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            self.rv = saved.get("resourceVersion", 1)
            for r in RESOURCES:
                self.objects[r] = saved.get("objects", {}).get(r, {})
            self.deny = saved.get("deny", [])
            self.users.update(saved.get("users", {}))
        for namespace in INITIAL_NAMESPACES:
            if f"/{namespace}" not in self.objects["namespaces"]:
                self.objects["namespaces"][f"/{namespace}"] = self.namespace_object(namespace)

    def namespace_object(self, name):
        return {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": name, "uid": str(uuid.uuid4()),
                             "resourceVersion": self.next_rv(),
                             "creationTimestamp": now_rfc3339(),
                             "labels": {"kubernetes.io/metadata.name": name}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}

    def save(self):
        if not self.path:
            return
        data = {"resourceVersion": self.rv, "objects": self.objects, "deny": self.deny,
                "users": self.users}
        temp = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(temp, self.path)

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def record(self, resource, namespace, kind, obj, save=True):
        """Records a watch event and wakes watchers. Caller holds the lock."""
        self.events.append((int(obj["metadata"]["resourceVersion"]), resource, namespace, kind,
                            copy.deepcopy(obj)))
        if len(self.events) > self.event_log_size:
            drop = max(1, self.event_log_size // 5)
            self.trimmed_rv = self.events[drop - 1][0]
            del self.events[:drop]
            self.events_trimmed += drop
        if save:
            self.save()
        self.lock.notify_all()

    # -- authentication and authorization

    def user_for_token(self, token):
        for name, entry in self.users.items():
            if entry.get("token") and entry["token"] == token:
                return name
        return None

    def allowed(self, user, verb, group, resource, namespace, name):
        """The authorizer chain: a webhook that may deny (the deny list), then RBAC."""
        for rule in self.deny:
            if (rule.get("verb", "*") in ("*", verb)
                    and rule.get("resource", "*") in ("*", resource)
                    and rule.get("namespace", "*") in ("*", namespace or "*")):
                return False
        entry = self.users.get(user)
        if entry is None:
            return False
        return any(rule_allows(rule, verb, group, resource, namespace, name)
                   for rule in entry.get("rules", []))

    # -- objects

    @staticmethod
    def key(namespace, name):
        return f"{namespace or ''}/{name}"

    def get(self, resource, namespace, name):
        obj = self.objects[resource].get(self.key(namespace, name))
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

    def require_namespace(self, namespace):
        """NamespaceLifecycle admission: objects are created only in a namespace that exists."""
        if f"/{namespace}" not in self.objects["namespaces"]:
            raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                           {"name": namespace, "kind": "namespaces"})

    def normalise(self, resource, obj):
        """Defaulting (pkg/apis/*/v1/defaults.go) for the fields Lockstep reads."""
        group, version, kind, _ = RESOURCES[resource]
        obj["apiVersion"] = f"{group}/{version}" if group else version
        obj["kind"] = kind
        if resource == "secrets":
            data = obj.get("data") or {}
            if isinstance(data, dict):
                for key, value in (obj.pop("stringData", None) or {}).items():
                    data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data
            obj["type"] = obj.get("type") or "Opaque"  # SetDefaults_Secret
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
        if resource == "statefulsets":  # apps/v1 SetDefaults_StatefulSet
            spec = obj.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("revisionHistoryLimit", 10)
            strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
            if strategy.get("type") == "RollingUpdate":
                strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
            spec.setdefault("template", {}).setdefault("metadata", {})
            spec["template"].setdefault("spec", {}).setdefault("containers", [])
        if resource == "daemonsets":  # apps/v1 SetDefaults_DaemonSet
            spec = obj.setdefault("spec", {})
            spec.setdefault("revisionHistoryLimit", 10)
            strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
            if strategy.get("type") == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                rolling.setdefault("maxUnavailable", 1)
                rolling.setdefault("maxSurge", 0)
            spec.setdefault("template", {}).setdefault("metadata", {})
            spec["template"].setdefault("spec", {}).setdefault("containers", [])
        return obj

    def validate(self, resource, obj, old=None):
        errors = FieldErrors()
        meta = obj.get("metadata") or {}
        validate_metadata(errors, resource, meta, meta.get("namespace"))
        if resource == "secrets":
            validate_secret(errors, obj, old)
        elif resource == "configmaps":
            validate_configmap(errors, obj, old)
        elif resource == "deployments":
            validate_workload(errors, obj, old, resource)
        elif resource in ("statefulsets", "daemonsets"):
            validate_workload(errors, obj, old, resource)
        elif resource == "externalsecrets":
            validate_external_secret(errors, obj)
        errors.raise_if_any(resource, meta.get("name") or "")

    def create(self, resource, namespace, obj, dry_run=False):
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body of the request is not an object")
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = meta["generateName"] + uuid.uuid4().hex[:5]
            meta["name"] = name
        if meta.get("namespace", namespace) != namespace:
            raise ApiError(400, "BadRequest", "the namespace of the provided object does not match "
                           "the namespace sent on the request")
        if meta.get("resourceVersion"):
            # apiserver/pkg/registry/rest/create.go BeforeCreate.
            raise ApiError(500, "InternalError",
                           "resourceVersion should not be set on objects to be created")
        if namespace is not None:
            self.require_namespace(namespace)
        obj = self.normalise(resource, obj)
        self.validate(resource, obj)
        key = self.key(namespace, name)
        if key in self.objects[resource]:
            raise ApiError(409, "AlreadyExists", f'{qualified(resource)} "{name}" already exists',
                           {"name": name, "group": RESOURCES[resource][0], "kind": resource})
        if namespace is not None:
            meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if resource in WORKLOADS or resource in CUSTOM_RESOURCES:
            meta["generation"] = 1
            obj["status"] = {}
        if resource == "namespaces":
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        if dry_run:
            meta["resourceVersion"] = str(self.rv)
            return obj
        meta["resourceVersion"] = self.next_rv()
        self.objects[resource][key] = obj
        self.record(resource, namespace, "ADDED", obj)
        if resource in WORKLOADS:
            self.start_rollout(namespace, name, 1, resource)
        if resource == "externalsecrets" and self.eso is not None:
            self.eso.changed(namespace, name, None, obj)
        return copy.deepcopy(obj)

    def update(self, resource, namespace, name, new, dry_run=False, subresource=None):
        """Stores `new` in place of the current object (PUT and the result of PATCH)."""
        current = self.get(resource, namespace, name)
        if not isinstance(new, dict):
            raise ApiError(400, "BadRequest", "the body of the request is not an object")
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
        if resource in WORKLOADS or resource in CUSTOM_RESOURCES:
            if subresource == "status":
                new["spec"] = current["spec"]
            else:
                new["status"] = current.get("status", {})
            generation = current["metadata"].get("generation", 1)
            if new.get("spec") != current.get("spec"):
                generation += 1
            meta["generation"] = generation
        self.validate(resource, new, current)
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        if new == current:
            return current  # A no-op changes nothing, as in Kubernetes.
        if dry_run:
            return new
        meta["resourceVersion"] = self.next_rv()
        self.objects[resource][self.key(namespace, name)] = new
        self.record(resource, namespace, "MODIFIED", new)
        if resource in WORKLOADS and meta["generation"] != current["metadata"].get("generation"):
            self.start_rollout(namespace, name, meta["generation"], resource)
        if resource == "externalsecrets" and self.eso is not None and subresource != "status":
            self.eso.changed(namespace, name, current, new)
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
        del self.objects[resource][self.key(namespace, name)]
        obj["metadata"]["resourceVersion"] = self.next_rv()
        self.record(resource, namespace, "DELETED", obj)
        if resource == "namespaces":
            # The namespace controller deletes everything in it, and each deletion is an
            # event its watchers see.
            for other in [r for r in RESOURCES if RESOURCES[r][3]]:
                for key in [k for k in self.objects[other] if k.startswith(f"{name}/")]:
                    gone = self.objects[other].pop(key)
                    gone["metadata"]["resourceVersion"] = self.next_rv()
                    self.record(other, name, "DELETED", gone, save=False)
            self.save()
        return obj

    # -- rollouts, as the workload controllers report them

    @staticmethod
    def rollout_key(resource, namespace, name):
        """Deployments keep their historic "ns/name" key; other kinds are prefixed."""
        key = f"{namespace}/{name}"
        return key if resource == "deployments" else f"{resource}:{key}"

    def start_rollout(self, namespace, name, generation, resource="deployments"):
        """A new spec generation: the controller will observe it, then roll it out."""
        key = self.rollout_key(resource, namespace, name)
        obj = self.objects[resource].get(f"{namespace}/{name}")
        previous = self.rollouts.get(key) or {}
        template = (obj or {}).get("spec", {}).get("template")
        revision = f"{name}-" + uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(
            template, sort_keys=True)).hex[:10]
        self.rollouts[key] = {"generation": generation, "phase": 0, "failed": False,
                              "resource": resource,
                              "current": previous.get("current", revision),
                              "update": revision}
        if key not in self.held:
            self.schedule_step(namespace, name, generation, resource)

    def step_delay(self, obj):
        annotations = obj["metadata"].get("annotations") or {}
        delay = self.rollout_delay
        if "lockstep.test/rollout-delay-ms" in annotations:
            delay = int(annotations["lockstep.test/rollout-delay-ms"]) / 1000.0
        return delay / (len(PHASES) - 1)

    def schedule_step(self, namespace, name, generation, resource="deployments"):
        obj = self.objects[resource].get(f"{namespace}/{name}")
        if obj is None:
            return

        def step():
            with self.lock:
                key = self.rollout_key(resource, namespace, name)
                rollout = self.rollouts.get(key)
                if (rollout is None or rollout["generation"] != generation or key in self.held
                        or rollout["failed"]):
                    return
                if self.advance(namespace, name, resource):
                    self.schedule_step(namespace, name, generation, resource)

        timer = threading.Timer(self.step_delay(obj), step)
        timer.daemon = True
        timer.start()

    def advance(self, namespace, name, resource="deployments"):
        """Moves the rollout one phase on (one status write); False when it cannot move:
        complete, failed, or a paused deployment whose spec has been observed. Caller holds
        the lock."""
        key = self.rollout_key(resource, namespace, name)
        current = self.objects[resource].get(f"{namespace}/{name}")
        rollout = self.rollouts.get(key)
        if current is None or rollout is None or rollout["failed"]:
            return False
        if rollout["phase"] >= len(PHASES) - 1:
            return False
        paused = resource == "deployments" and current["spec"].get("paused") is True
        if paused and rollout["phase"] >= 1:
            return False  # A paused deployment is observed, never rolled out.
        rollout["phase"] += 1
        if resource == "daemonsets":
            replicas = self.node_count(current)
        else:
            replicas = current["spec"].get("replicas", 1)
        phase = PHASES[rollout["phase"]] if replicas > 0 else "complete"
        if replicas == 0:
            rollout["phase"] = len(PHASES) - 1
        if resource == "deployments":
            self.write_status(current, rollout["generation"], phase, replicas)
        elif resource == "statefulsets":
            self.write_statefulset_status(current, rollout, phase, replicas)
        else:
            self.write_daemonset_status(current, rollout, phase, replicas)
        current["metadata"]["resourceVersion"] = self.next_rv()
        self.record(resource, namespace, "MODIFIED", current)
        return rollout["phase"] < len(PHASES) - 1 and not (paused and rollout["phase"] >= 1)

    @staticmethod
    def node_count(obj):
        """The nodes a DaemonSet runs on: 2, or the `lockstep.test/nodes` annotation."""
        annotations = obj["metadata"].get("annotations") or {}
        return int(annotations.get("lockstep.test/nodes", 2))

    @staticmethod
    def updated_by_phase(phase, replicas, limit):
        """How many pods run the new template in each phase (one pod at a time), at most
        `limit` (a partition or an OnDelete strategy holds the others back)."""
        updated = {"observed": 0, "surge": 1, "terminating": max(replicas - 1, 1),
                   "unavailable": replicas, "complete": replicas}[phase]
        return min(updated, limit)

    def write_statefulset_status(self, current, rollout, phase, replicas):
        """What the StatefulSet controller reports: pods are replaced one at a time from the
        highest ordinal down, only those at or above `partition`; `OnDelete` replaces none
        (pods take the new template only when deleted). kubectl's StatefulSetStatusViewer
        reads observedGeneration, readyReplicas, updatedReplicas and the two revisions."""
        strategy = current["spec"].get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete":
            limit = 0
        else:
            partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
            limit = max(replicas - partition, 0)
        updated = self.updated_by_phase(phase, replicas, limit)
        ready = replicas if phase in ("observed", "complete") else replicas - 1
        done = phase == "complete" and updated == replicas
        if done:
            rollout["current"] = rollout["update"]
        status = current.setdefault("status", {})
        status.update({
            "observedGeneration": rollout["generation"], "replicas": replicas,
            "readyReplicas": ready, "availableReplicas": ready,
            "currentReplicas": replicas - updated if not done else replicas,
            "updatedReplicas": updated, "currentRevision": rollout["current"],
            "updateRevision": rollout["update"], "collisionCount": 0})

    def write_daemonset_status(self, current, rollout, phase, nodes):
        """What the DaemonSet controller reports: one node's pod replaced at a time
        (maxUnavailable 1); `OnDelete` replaces none. kubectl's DaemonSetStatusViewer reads
        observedGeneration, desired/updated numbers scheduled and numberAvailable."""
        strategy = current["spec"].get("updateStrategy") or {}
        limit = 0 if strategy.get("type") == "OnDelete" else nodes
        updated = self.updated_by_phase(phase, nodes, limit)
        available = nodes if phase in ("observed", "complete") else nodes - 1
        status = current.setdefault("status", {})
        status.update({
            "observedGeneration": rollout["generation"], "desiredNumberScheduled": nodes,
            "currentNumberScheduled": nodes, "numberMisscheduled": 0,
            "numberReady": available, "numberAvailable": available,
            "numberUnavailable": nodes - available, "updatedNumberScheduled": updated})

    @staticmethod
    def write_status(current, generation, phase, replicas):
        name = current["metadata"]["name"]
        status = current.setdefault("status", {})
        status["observedGeneration"] = generation
        # (replicas, updated, available) per phase, for maxSurge 1 (kubectl's
        # DeploymentStatusViewer turns each into its own "Waiting for …" line).
        replicas_by_phase = {
            "observed": (replicas, 0, replicas),
            "surge": (replicas + 1, 1, replicas),
            "terminating": (replicas + 1, replicas, replicas),
            "unavailable": (replicas, replicas, replicas - 1),
            "complete": (replicas, replicas, replicas),
        }
        total, updated, available = replicas_by_phase[phase]
        status["replicas"] = total
        status["updatedReplicas"] = updated
        status["readyReplicas"] = available
        status["availableReplicas"] = available
        status["unavailableReplicas"] = max(0, total - available)
        stamp = now_rfc3339()
        if phase == "complete":
            progressing = {"type": "Progressing", "status": "True",
                           "reason": "NewReplicaSetAvailable",
                           "message": f'ReplicaSet "{name}" has successfully progressed.'}
        elif current["spec"].get("paused") is True:
            progressing = {"type": "Progressing", "status": "Unknown",
                           "reason": "DeploymentPaused", "message": "Deployment is paused"}
        else:
            progressing = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                           "message": f'ReplicaSet "{name}" is progressing.'}
        available_condition = {"type": "Available", "status": "True",
                               "reason": "MinimumReplicasAvailable",
                               "message": "Deployment has minimum availability."}
        for condition in (available_condition, progressing):
            condition["lastUpdateTime"] = stamp
            condition["lastTransitionTime"] = stamp
        status["conditions"] = [available_condition, progressing]

    def fail_rollout(self, namespace, name):
        """progressDeadlineSeconds passed without progress: Progressing=False with reason
        ProgressDeadlineExceeded (deploymentutil.TimedOutReason). Caller holds the lock."""
        key = f"{namespace}/{name}"
        current = self.objects["deployments"].get(key)
        rollout = self.rollouts.get(key)
        if current is None or rollout is None:
            raise not_found("deployments", name)
        if rollout["phase"] == 0:
            self.advance(namespace, name)
        rollout["failed"] = True
        status = current.setdefault("status", {})
        stamp = now_rfc3339()
        conditions = [c for c in status.get("conditions", []) if c.get("type") != "Progressing"]
        conditions.append({"type": "Progressing", "status": "False",
                           "reason": "ProgressDeadlineExceeded",
                           "message": f'ReplicaSet "{name}" has timed out progressing.',
                           "lastUpdateTime": stamp, "lastTransitionTime": stamp})
        status["conditions"] = conditions
        current["metadata"]["resourceVersion"] = self.next_rv()
        self.record("deployments", namespace, "MODIFIED", current)

    def rollout_action(self, namespace, name, action, resource="deployments"):
        if resource not in WORKLOADS:
            raise ApiError(400, "BadRequest", f"no rollouts for {resource!r}")
        key = self.rollout_key(resource, namespace, name)
        if action == "hold":
            self.held.add(key)
        elif action == "release":
            self.held.discard(key)
            rollout = self.rollouts.get(key)
            if rollout is not None:
                self.schedule_step(namespace, name, rollout["generation"], resource)
        elif action == "step":
            if not self.advance(namespace, name, resource) and key not in self.rollouts:
                raise not_found(resource, name)
        elif action == "fail":
            if resource != "deployments":
                raise ApiError(400, "BadRequest", "only deployments have a progress deadline")
            self.fail_rollout(namespace, name)
        else:
            raise ApiError(400, "BadRequest", f"unknown rollout action {action!r}")
        rollout = self.rollouts.get(key) or {"phase": 0, "generation": 0, "failed": False}
        return {"held": key in self.held, "phase": PHASES[rollout["phase"]],
                "generation": rollout["generation"], "failed": rollout["failed"]}


# ---------------------------------------------------------------------------------------
# An ESO-like controller


class SyncError(Exception):
    pass


class EsoController:
    """What External Secrets Operator's ExternalSecret controller does, for the parts
    Lockstep relies on: when an ExternalSecret is created, its spec changes, or its
    `force-sync` annotation changes (ESO's documented way to ask for a sync now), it reads
    the Vault/OpenBao KV v2 secrets the ExternalSecret names (spec.data[].remoteRef
    key/property, spec.dataFrom[].extract.key) with the token of the store it was given
    (POST /_standin/eso; the token is held in memory only, never in the state file), and
    writes the target Secret: creationPolicy Owner (the default) makes the Secret hold exactly
    that data with an ownerReference to the ExternalSecret (controller: true), Merge changes
    only those keys of an existing Secret. It then sets the ExternalSecret's status (Ready
    condition SecretSynced or SecretSyncedError, refreshTime, syncedResourceVersion). The
    Secret is written through the store like any write (validation, resourceVersion, watch
    event). Not modelled: refreshInterval timers, find, templates, other providers."""

    def __init__(self, store, stores, delay_ms):
        self.store = store
        self.stores = stores  # SecretStore name -> {"address", "token", "mount"}
        self.delay = delay_ms / 1000.0
        self.syncs = 0

    def changed(self, namespace, name, old, new):
        """Called by the store (lock held) after an ExternalSecret was written."""
        annotations = (new.get("metadata") or {}).get("annotations") or {}
        if old is not None:
            before = (old.get("metadata") or {}).get("annotations") or {}
            if before.get("force-sync") == annotations.get("force-sync") \
                    and old.get("spec") == new.get("spec"):
                return
        delay = self.delay
        if "lockstep.test/sync-delay-ms" in annotations:
            delay = int(annotations["lockstep.test/sync-delay-ms"]) / 1000.0
        timer = threading.Timer(delay, self.sync, (namespace, name))
        timer.daemon = True
        timer.start()

    def read(self, config, key):
        url = f'{config["address"].rstrip("/")}/v1/{config["mount"]}/data/{key}'
        request = urllib.request.Request(url, headers={"X-Vault-Token": config["token"]})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as error:
            raise SyncError(f"cannot read secret {key} from the store: HTTP {error.code}")
        except (urllib.error.URLError, OSError) as error:
            raise SyncError(f"cannot reach the store: {error}")
        return ((body.get("data") or {}).get("data")) or {}

    def fetch(self, spec):
        """The target Secret's data (text values) the ExternalSecret asks for."""
        store_name = (spec.get("secretStoreRef") or {}).get("name")
        config = self.stores.get(store_name)
        if config is None:
            raise SyncError(f'could not get SecretStore "{store_name}"')
        data = {}
        for entry in spec.get("data") or []:
            ref = entry["remoteRef"]
            values = self.read(config, ref["key"])
            prop = ref.get("property")
            if prop is None:
                data[entry["secretKey"]] = json.dumps(values, sort_keys=True)
            elif prop not in values:
                raise SyncError(f'key {prop} does not exist in secret {ref["key"]}')
            else:
                data[entry["secretKey"]] = str(values[prop])
        for entry in spec.get("dataFrom") or []:
            if not entry.get("extract"):
                raise SyncError("the stand-in supports dataFrom.extract only")
            data.update({k: str(v) for k, v in self.read(config, entry["extract"]["key"]).items()})
        return data

    def sync(self, namespace, name):
        with self.store.lock:
            obj = self.store.objects["externalsecrets"].get(f"{namespace}/{name}")
            if obj is None:
                return
            obj = copy.deepcopy(obj)
        try:
            data = self.fetch(obj.get("spec") or {})
        except SyncError as error:
            with self.store.lock:
                self.set_status(namespace, name, False, "SecretSyncedError", str(error))
            return
        with self.store.lock:
            try:
                self.write_secret(namespace, obj, data)
            except (SyncError, ApiError) as error:
                message = error.body["message"] if isinstance(error, ApiError) else str(error)
                self.set_status(namespace, name, False, "SecretSyncedError", message)
                return
            self.syncs += 1
            self.set_status(namespace, name, True, "SecretSynced", "secret synced")

    def write_secret(self, namespace, es, data):
        """Caller holds the lock."""
        spec = es.get("spec") or {}
        target = spec.get("target") or {}
        secret_name = target.get("name") or es["metadata"]["name"]
        policy = target.get("creationPolicy", "Owner")
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())}
        digest = uuid.uuid5(uuid.NAMESPACE_OID, json.dumps(encoded, sort_keys=True)).hex
        owner = {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
                 "name": es["metadata"]["name"], "uid": es["metadata"]["uid"],
                 "controller": True, "blockOwnerDeletion": True}
        current = self.store.objects["secrets"].get(f"{namespace}/{secret_name}")
        if policy == "Merge":
            if current is None:
                raise SyncError(f'secret "{secret_name}" does not exist (creationPolicy Merge)')
            new = copy.deepcopy(current)
            new["data"] = {**(new.get("data") or {}), **encoded}
        elif policy == "Owner":
            if current is not None:
                owners = [o for o in current["metadata"].get("ownerReferences") or []
                          if o.get("controller")]
                if owners and owners[0].get("uid") != owner["uid"]:
                    raise SyncError(f'secret "{secret_name}" is owned by another controller')
                new = copy.deepcopy(current)
            else:
                new = {"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": secret_name}, "type": "Opaque"}
            new["data"] = encoded
            new["metadata"]["ownerReferences"] = [owner]
            new["metadata"].setdefault("labels", {})["reconcile.external-secrets.io/managed"] = "true"
        else:
            raise SyncError(f"the stand-in does not model creationPolicy {policy}")
        new["metadata"].setdefault("annotations", {})["reconcile.external-secrets.io/data-hash"] = digest
        new["metadata"].pop("resourceVersion", None)
        # In the request log too, so a test can order the controller's write against
        # kubectl's requests (it is not an API request: no user, no RBAC).
        self.store.requests.append({"method": "CONTROLLER",
                                    "path": f"/api/v1/namespaces/{namespace}/secrets/{secret_name}",
                                    "userAgent": "standin-external-secrets-controller"})
        if current is None:
            self.store.create("secrets", namespace, new)
        else:
            self.store.update("secrets", namespace, secret_name, new)

    def set_status(self, namespace, name, ready, reason, message):
        """Caller holds the lock."""
        current = self.store.objects["externalsecrets"].get(f"{namespace}/{name}")
        if current is None:
            return
        stamp = now_rfc3339()
        status = current.setdefault("status", {})
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False",
                                 "reason": reason, "message": message,
                                 "lastTransitionTime": stamp}]
        if ready:
            status["refreshTime"] = stamp
            status["syncedResourceVersion"] = (
                f'{current["metadata"].get("generation", 1)}-{current["metadata"]["resourceVersion"]}')
        current["metadata"]["resourceVersion"] = self.store.next_rv()
        self.store.record("externalsecrets", namespace, "MODIFIED", current)


# ---------------------------------------------------------------------------------------
# Discovery documents


def api_resource_list(group_version, resources):
    entries = []
    for name in resources:
        group, version, kind, namespaced = RESOURCES[name]
        entries.append({
            "name": name, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
            "verbs": VERBS,
            "shortNames": {"deployments": ["deploy"], "configmaps": ["cm"],
                           "namespaces": ["ns"], "statefulsets": ["sts"], "daemonsets": ["ds"],
                           "externalsecrets": ["es"]}.get(name, []),
            "categories": ["all"] if name in WORKLOADS else (
                ["external-secrets"] if name == "externalsecrets" else []),
        })
        if name in WORKLOADS or name in CUSTOM_RESOURCES:
            subs = ("status",) if name in ("daemonsets", "externalsecrets") else ("status", "scale")
            for sub in subs:
                entries.append({"name": f"{name}/{sub}", "singularName": "", "namespaced": True,
                                "kind": "Scale" if sub == "scale" else kind,
                                "group": "autoscaling" if sub == "scale" else None,
                                "version": "v1" if sub == "scale" else None,
                                "verbs": ["get", "patch", "update"]})
                entries[-1] = {k: v for k, v in entries[-1].items() if v is not None}
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": entries}


def discovery(minor, authz):
    """The discovery documents of a server of version 1.`minor`, with or without the
    authorization.k8s.io API."""
    groups = [{"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
               "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
              EXTERNAL_SECRETS_GROUP]
    documents = {
        "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]},
        "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups},
        "/api/v1": api_resource_list("v1", ["namespaces", "secrets", "configmaps"]),
        "/apis/apps/v1": api_resource_list("apps/v1", WORKLOADS),
        "/apis/external-secrets.io/v1": api_resource_list("external-secrets.io/v1",
                                                          ["externalsecrets"]),
        "/version": {"major": "1", "minor": str(minor),
                     "gitVersion": f"v1.{minor}.0-lockstep-standin",
                     "gitCommit": "0000000000000000000000000000000000000000",
                     "gitTreeState": "clean", "buildDate": "2024-08-13T00:00:00Z",
                     "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64"},
    }
    if authz:
        groups.append({"name": "authorization.k8s.io",
                       "versions": [{"groupVersion": "authorization.k8s.io/v1", "version": "v1"}],
                       "preferredVersion": {"groupVersion": "authorization.k8s.io/v1",
                                            "version": "v1"}})
        documents["/apis/authorization.k8s.io/v1"] = {
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "authorization.k8s.io/v1",
            "resources": [{"name": "selfsubjectaccessreviews",
                           "singularName": "selfsubjectaccessreview", "namespaced": False,
                           "kind": "SelfSubjectAccessReview", "verbs": ["create"]}]}
    return documents


PUBLIC_PATHS = {"/version", "/healthz", "/livez", "/readyz"}


def protobuf_fields(data):
    """The fields of one protobuf message: {number: [bytes or int, …]} (length-delimited
    fields as bytes, varints as int)."""
    fields, i = {}, 0

    def varint():
        nonlocal i
        value, shift = 0, 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields.setdefault(number, []).append(varint())
        elif wire == 2:
            length = varint()
            fields.setdefault(number, []).append(data[i:i + length])
            i += length
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ApiError(400, "BadRequest", "unsupported protobuf wire type")
    return fields


def access_review_from_protobuf(body):
    """kubectl ≥ 1.32 sends SelfSubjectAccessReview as protobuf (`k8s\\0` + runtime.Unknown
    whose `raw` is the review: spec=2 → resourceAttributes=1 → namespace=1, verb=2, group=3,
    version=4, resource=5, subresource=6, name=7; k8s.io/api/authorization/v1/generated.proto)."""
    if not body.startswith(b"k8s\x00"):
        raise ApiError(400, "BadRequest", "not a Kubernetes protobuf message")
    raw = protobuf_fields(body[4:]).get(2, [b""])[0]
    spec = protobuf_fields(raw).get(2, [b""])[0]
    attributes = protobuf_fields(spec).get(1, [b""])[0]
    fields = protobuf_fields(attributes)
    names = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource",
             6: "subresource", 7: "name"}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "metadata": {}, "spec": {"resourceAttributes": {
                names[n]: v[0].decode() for n, v in fields.items() if n in names}}}


def secret_from_protobuf(body):
    """kubectl ≥ 1.32 sends typed objects as protobuf: `create secret generic` posts a
    v1.Secret (`k8s\\0` + runtime.Unknown whose `raw` is the Secret: metadata=1, data=2
    (map<string, bytes>), type=3, stringData=4, immutable=5; ObjectMeta: name=1,
    generateName=2, namespace=3, labels=11, annotations=12; a map entry is key=1, value=2;
    k8s.io/api/core/v1/generated.proto, apimachinery meta/v1/generated.proto). The JSON the
    same Secret would have been sent as."""
    if not body.startswith(b"k8s\x00"):
        raise ApiError(400, "BadRequest", "not a Kubernetes protobuf message")
    secret = protobuf_fields(protobuf_fields(body[4:]).get(2, [b""])[0])

    def entries(values, decode_value):
        pairs = (protobuf_fields(entry) for entry in values)
        return {pair.get(1, [b""])[0].decode(): decode_value(pair.get(2, [b""])[0])
                for pair in pairs}

    meta = protobuf_fields(secret.get(1, [b""])[0])
    # Generated marshalling writes every string field, empty ones too: empty means unset.
    metadata = {key: meta[n][0].decode() for n, key in
                ((1, "name"), (2, "generateName"), (3, "namespace")) if meta.get(n, [b""])[0]}
    for n, key in ((11, "labels"), (12, "annotations")):
        if n in meta:
            metadata[key] = entries(meta[n], bytes.decode)
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": metadata}
    if 2 in secret:
        obj["data"] = entries(secret[2], lambda value: base64.b64encode(value).decode())
    if secret.get(3, [b""])[0]:
        obj["type"] = secret[3][0].decode()
    if 4 in secret:
        obj["stringData"] = entries(secret[4], bytes.decode)
    if 5 in secret:
        obj["immutable"] = bool(secret[5][0])
    return obj


# The protobuf bodies the stand-in reads, by resource: those kubectl ≥ 1.32 sends for what
# Lockstep and its documented recipes run (`auth can-i`, `create secret generic`).
PROTOBUF_DECODERS = {"secrets": secret_from_protobuf,
                     "selfsubjectaccessreviews": access_review_from_protobuf}


EXTERNAL_SECRETS_GROUP = {
    "name": "external-secrets.io",
    "versions": [{"groupVersion": "external-secrets.io/v1", "version": "v1"}],
    "preferredVersion": {"groupVersion": "external-secrets.io/v1", "version": "v1"}}


def table(resource, items):
    """A meta.k8s.io/v1 Table, what `kubectl get` asks for."""
    if resource == "deployments":
        columns = ["Name", "Ready", "Up-to-date", "Available", "Age"]
    elif resource == "secrets":
        columns = ["Name", "Type", "Data", "Age"]
    elif resource == "namespaces":
        columns = ["Name", "Status", "Age"]
    elif resource in ("statefulsets", "daemonsets", "externalsecrets"):
        columns = ["Name", "Age"]
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
        elif resource == "namespaces":
            cells = [name, (item.get("status") or {}).get("phase", "Active"), "1m"]
        elif resource in ("statefulsets", "daemonsets", "externalsecrets"):
            cells = [name, "1m"]
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
    tls = False
    default_minor = DEFAULT_MINOR

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            # The handshake runs here, on the connection's own thread, not in accept().
            self.connection.do_handshake()

    def handle(self):
        try:
            super().handle()
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass

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

    def server_options(self, path):
        """`/_as/1.N[,no-authz]/rest…`: a server of version 1.N (and without the
        authorization API); the rest of the path is the API path."""
        minor, authz = self.default_minor, True
        if path.startswith("/_as/"):
            options, _, rest = path[len("/_as/"):].partition("/")
            for option in options.split(","):
                if option == "no-authz":
                    authz = False
                elif re.fullmatch(r"1\.\d+", option) and int(option[2:]) in SUPPORTED_MINORS:
                    minor = int(option[2:])
                else:
                    raise ApiError(404, "NotFound", f"unknown stand-in option {option!r}")
            path = "/" + rest
        return minor, authz, path.rstrip("/") or "/"

    def dispatch(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        body = self.read_body()
        try:
            if url.path.startswith("/_standin"):
                return self.admin(url.path.rstrip("/"), query, body)
            minor, authz, path = self.server_options(url.path)
            with self.store.lock:
                self.store.requests.append({
                    "method": self.command,
                    "path": path + (f"?{url.query}" if url.query else ""),
                    "userAgent": self.headers.get("User-Agent", "")})
            documents = discovery(minor, authz)
            if path in PUBLIC_PATHS:
                if path == "/version":
                    return self.send_json(200, documents["/version"])
                return self.send_text(200, "ok")
            user = self.authenticate()
            if path in documents:
                return self.send_json(200, documents[path])
            if path.startswith("/openapi"):
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" and authz \
                    and self.command == "POST":
                return self.access_review(user, body)
            return self.resource(path, query, user, body)
        except ApiError as error:
            self.send_json(error.code, error.body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except json.JSONDecodeError as error:
            self.send_json(400, status_body(400, "BadRequest", f"the request body is not JSON: {error}"))

    def send_text(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authenticate(self):
        """Who is asking: the bearer token's user (401 without one, as with
        --anonymous-auth=false), then impersonation, which needs the `impersonate` verb on
        `users` (apiserver/pkg/endpoints/filters/impersonation.go)."""
        store = self.store
        if not self.tls:
            user = USER  # Plain HTTP: kubectl sends no credentials; see the module doc.
        else:
            auth = self.headers.get("Authorization", "")
            token = auth[7:].strip() if auth.startswith("Bearer ") else ""
            with store.lock:
                user = store.user_for_token(token) if token else None
            if user is None:
                raise ApiError(401, "Unauthorized", "Unauthorized")
        target = self.headers.get("Impersonate-User")
        if target:
            with store.lock:
                allowed = store.allowed(user, "impersonate", "", "users", None, target)
            if not allowed:
                raise ApiError(
                    403, "Forbidden",
                    f'users "{target}" is forbidden: User "{user}" cannot impersonate resource '
                    '"users" in API group "" at the cluster scope',
                    {"name": target, "kind": "users"})
            user = target
        if self.headers.get("Impersonate-Group"):
            raise ApiError(403, "Forbidden", f'groups is forbidden: User "{user}" cannot '
                           'impersonate resource "groups" in API group "" at the cluster scope')
        return user

    def admin(self, path, query, body):
        store = self.store
        with store.lock:
            if path == "/_standin/requests" and self.command == "GET":
                return self.send_json(200, store.requests)
            if path == "/_standin/requests" and self.command == "DELETE":
                store.requests.clear()
                return self.send_json(200, {})
            if path == "/_standin/state":
                return self.send_json(200, {"resourceVersion": store.rv, "objects": store.objects,
                                            "deny": store.deny, "users": store.users})
            if path == "/_standin/deny" and self.command == "POST":
                store.deny.extend(json.loads(body or b"[]"))
                store.save()
                return self.send_json(200, store.deny)
            if path == "/_standin/deny" and self.command == "DELETE":
                store.deny.clear()
                store.save()
                return self.send_json(200, [])
            if path == "/_standin/users" and self.command == "POST":
                entry = json.loads(body or b"{}")
                store.users[entry["name"]] = {"token": entry.get("token"),
                                              "rules": entry.get("rules", [])}
                store.save()
                return self.send_json(200, store.users[entry["name"]])
            if path == "/_standin/status-after-get" and self.command == "POST":
                rule = json.loads(body or b"{}")
                key = f'{rule["namespace"]}/{rule["name"]}'
                store.status_after_get[key] = int(rule.get("times", 1))
                return self.send_json(200, {key: store.status_after_get[key]})
            if path == "/_standin/eso" and self.command == "POST":
                # {"stores": {NAME: {"address", "token", "mount"}}, "delayMs"}: the ESO-like
                # controller's SecretStores, tokens kept in memory only.
                config = json.loads(body or b"{}")
                stores = dict(store.eso.stores) if store.eso else {}
                stores.update(config.get("stores") or {})
                store.eso = EsoController(store, stores, int(config.get("delayMs", 0)))
                return self.send_json(200, {"stores": sorted(stores)})
            if path == "/_standin/eso" and self.command == "GET":
                return self.send_json(200, {"stores": sorted(store.eso.stores) if store.eso else [],
                                            "syncs": store.eso.syncs if store.eso else 0})
            if path == "/_standin/watch-cache" and self.command == "POST":
                # {"size": N}: how many events the watch log keeps, as kube-apiserver's
                # --default-watch-cache-size; a small log lets a test reach 410 Expired.
                size = int(json.loads(body or b"{}")["size"])
                if size < 2:
                    raise ApiError(422, "Invalid", "the watch cache keeps at least 2 events")
                store.event_log_size = size
                return self.send_json(200, {"size": size})
            if path == "/_standin/rollout" and self.command == "POST":
                rule = json.loads(body or b"{}")
                return self.send_json(200, store.rollout_action(
                    rule["namespace"], rule["name"], rule["action"],
                    rule.get("resource", "deployments")))
        raise ApiError(404, "NotFound", "unknown admin endpoint")

    def decode_body(self, resource, body):
        """A written object: JSON, or protobuf (kubectl ≥ 1.32) for the resources in
        PROTOBUF_DECODERS. Other protobuf bodies are answered 415; kube-apiserver would
        decode them, and the answer names what this stand-in is missing."""
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("application/vnd.kubernetes.protobuf"):
            return json.loads(body)
        if resource in PROTOBUF_DECODERS:
            return PROTOBUF_DECODERS[resource](body)
        raise ApiError(415, "UnsupportedMediaType",
                       f"the stand-in decodes protobuf for {', '.join(PROTOBUF_DECODERS)} "
                       f"only, not {resource}")

    def access_review(self, user, body):
        review = self.decode_body("selfsubjectaccessreviews", body or b"{}")
        attributes = review.get("spec", {}).get("resourceAttributes", {})
        verb = attributes.get("verb", "")
        resource = attributes.get("resource", "")
        if attributes.get("subresource"):
            resource += "/" + attributes["subresource"]
        group = attributes.get("group", "")
        namespace = attributes.get("namespace") or None
        name = attributes.get("name") or None
        with self.store.lock:
            allowed = self.store.allowed(user, verb, group, resource, namespace, name)
        review["status"] = {"allowed": allowed}
        if not allowed:
            review["status"]["reason"] = "no RBAC rule allows it"
        review.setdefault("apiVersion", "authorization.k8s.io/v1")
        review.setdefault("kind", "SelfSubjectAccessReview")
        review.setdefault("metadata", {})["creationTimestamp"] = None
        self.send_json(201, review)

    def parse_path(self, path):
        parts = path.strip("/").split("/")
        # /api/v1/namespaces/NS/RES[/NAME[/SUB]]  or  /apis/G/V/namespaces/NS/RES[/NAME[/SUB]]
        # /api/v1/namespaces[/NAME]
        if parts[0] == "api" and len(parts) >= 2:
            rest = parts[2:]
            group = ""
        elif parts[0] == "apis" and len(parts) >= 3:
            rest = parts[3:]
            group = parts[1]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        rest = [unquote(p) for p in rest]
        namespace = None
        if group == "" and rest and rest[0] == "namespaces" and len(rest) <= 2:
            return "namespaces", None, (rest[1] if len(rest) == 2 else None), None
        if len(rest) >= 2 and rest[0] == "namespaces":
            namespace = rest[1]
            rest = rest[2:]
        if not rest:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        resource = rest[0]
        if resource not in RESOURCES or RESOURCES[resource][0] != group \
                or RESOURCES[resource][3] != (namespace is not None) and namespace is not None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        return resource, namespace, name, sub

    def field_name(self, query):
        for term in (query.get("fieldSelector") or "").split(","):
            if term.startswith("metadata.name="):
                return term.split("=", 1)[1]
        return None

    def resource(self, path, query, user, body):
        resource, namespace, name, sub = self.parse_path(path)
        store = self.store
        verb = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete"}[self.command]
        if verb == "get" and name is None:
            verb = "watch" if query.get("watch") in ("true", "1") else "list"
        if sub not in (None, "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group = RESOURCES[resource][0]
        # RequestInfo takes the name of a list/watch from a metadata.name field selector, so
        # resourceNames rules can allow `rollout status`.
        auth_name = name if name is not None else self.field_name(query)
        auth_resource = resource + (f"/{sub}" if sub else "")
        with store.lock:
            allowed = store.allowed(user, verb, group, auth_resource, namespace, auth_name)
        if not allowed:
            target = f'{qualified(resource)} "{name}"' if name else qualified(resource)
            where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            raise ApiError(403, "Forbidden",
                           f'{target} is forbidden: User "{user}" cannot {verb} resource '
                           f'"{auth_resource}" in API group "{group}"{where}',
                           {"name": name or "", "group": group, "kind": resource})
        dry_run = query.get("dryRun") == "All"
        if verb == "watch":
            return self.watch(resource, namespace, query)
        with store.lock:
            if verb == "list":
                items = store.list(resource, namespace, self.field_name(query))
                if "as=Table" in self.headers.get("Accept", ""):
                    return self.send_json(200, table(resource, items))
                group, version, kind, _ = RESOURCES[resource]
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
                if name is not None:
                    raise ApiError(405, "MethodNotAllowed", "POST is not allowed on a named object")
                obj = store.create(resource, namespace, self.decode_body(resource, body), dry_run)
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
            if content_type == "application/strategic-merge-patch+json" \
                    and resource in CUSTOM_RESOURCES:
                # apiextensions-apiserver: no strategic merge for custom resources.
                raise ApiError(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted "
                               "media types include: application/json-patch+json, "
                               "application/merge-patch+json, application/apply-patch+yaml")
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
        selector = self.field_name(query)
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
                    group, version, kind, _ = RESOURCES[resource]
                    emit("BOOKMARK", {"kind": kind, "apiVersion": f"{group}/{version}" if group else version,
                                      "metadata": {"resourceVersion": str(store.rv), "annotations": {
                                          "k8s.io/initial-events-end": "true"}}})
                cursor = store.rv
                expired = False
            else:
                cursor = start_rv
                # Events after start_rv were dropped from the log: kube-apiserver answers
                # 410 Gone ("too old resource version"), and kubectl lists again.
                expired = start_rv < store.trimmed_rv
            # Where this watch is in the event log, by event number: each wake-up reads only
            # the events after it (a scan of the whole log per watcher per write starved the
            # stand-in with many watches open beside a CPU hog).
            position = store.events_trimmed + next(
                (i for i, e in enumerate(store.events) if e[0] > cursor), len(store.events))
        try:
            if expired:
                emit("ERROR", status_body(410, "Expired",
                                          f"too old resource version: {start_rv}"))
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return
            while time.monotonic() < deadline:
                with store.lock:
                    if position >= store.events_trimmed + len(store.events):
                        store.lock.wait(0.5)
                    if position < store.events_trimmed:
                        # Events this watch has not sent were dropped: kube-apiserver's
                        # cacher closes a watcher that fell behind, and the client watches
                        # again from the last resourceVersion it saw (then 410 Expired, and
                        # it lists again). Sending what is left would skip events silently.
                        break
                    pending = store.events[position - store.events_trimmed:]
                    position = store.events_trimmed + len(store.events)
                for rv, ev_resource, ev_namespace, kind, obj in pending:
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
            if not readable:
                return False
            if isinstance(self.connection, ssl.SSLSocket):
                # No MSG_PEEK on TLS: a watching client sends nothing more, so any readable
                # data is its close_notify or the end of the connection.
                self.connection.setblocking(False)
                try:
                    return self.connection.recv(1) == b""
                except ssl.SSLWantReadError:
                    return False
                finally:
                    self.connection.setblocking(True)
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True


def ensure_certificate(directory):
    """A self-signed certificate (its own CA) for 127.0.0.1 and localhost, made once."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    cert, key = os.path.join(directory, "ca.pem"), os.path.join(directory, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "30", "-subj", "/CN=lockstep-k8s-standin",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-keyout", key, "-out", cert],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.chmod(key, 0o600)
    return cert, key


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--state", default=None, help="JSON file the state is kept in")
    parser.add_argument("--tls-dir", default=None,
                        help="serve HTTPS with the certificate in this directory (made if absent)")
    parser.add_argument("--minor", type=int, default=DEFAULT_MINOR,
                        help="the Kubernetes minor /version reports without an /_as/ prefix")
    parser.add_argument("--rollout-delay-ms", type=int, default=200,
                        help="how long an unheld simulated rollout takes")
    args = parser.parse_args()
    if args.minor not in SUPPORTED_MINORS:
        parser.error(f"--minor must be one of {list(SUPPORTED_MINORS)}")
    Handler.store = Store(args.state, args.rollout_delay_ms)
    Handler.default_minor = args.minor
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    scheme = "http"
    if args.tls_dir:
        cert, key = ensure_certificate(args.tls_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)
        Handler.tls = True
        scheme = "https"
    sys.stderr.write(f"k8s stand-in listening on {scheme}://{args.host}:{args.port}\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
