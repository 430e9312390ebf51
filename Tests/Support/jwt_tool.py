#!/usr/bin/env python3
"""Test-only JWT issuer: makes an RSA key pair and signs JWTs with it, the way the
Kubernetes API server signs projected service-account tokens.

  jwt_tool.py keygen DIR                      -> DIR/jwt-key.pem (0600), DIR/jwt-pub.pem
  jwt_tool.py sign KEYFILE CLAIMS_JSON        -> the JWT on stdout; "exp"/"iat"/"nbf" given
                                                 as offsets in seconds from now
"""
import base64
import json
import os
import sys
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def keygen(directory: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(os.path.join(directory, "jwt-key.pem"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with open(os.path.join(directory, "jwt-pub.pem"), "wb") as out:
        out.write(public)


def sign(key_file: str, claims: dict) -> str:
    with open(key_file, "rb") as source:
        key = serialization.load_pem_private_key(source.read(), password=None)
    now = int(time.time())
    for name in ("exp", "iat", "nbf"):
        if name in claims:
            claims[name] = now + int(claims[name])
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "lockstep-test"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{b64(signature)}"


if __name__ == "__main__":
    if sys.argv[1] == "keygen":
        keygen(sys.argv[2])
    elif sys.argv[1] == "sign":
        print(sign(sys.argv[2], json.loads(sys.argv[3])))
    else:
        sys.exit(64)
