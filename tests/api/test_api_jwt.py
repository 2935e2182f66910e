"""JWTs of an external identity provider, through HTTP: accepted when signed by its key for this audience
and issuer and not expired, with role and scope from the claims; refused (401) otherwise."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from uuid import UUID

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient

from api.app import create_app
from conftest import Api, authenticated, bearer
from ledger.secrets import SecretsError, check_secrets
from ledger.settings import Settings

ISSUER = "https://id.example.gov.vn"
AUDIENCE = "health-ledger"


def _jwk(private_key: Any, kid: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if isinstance(private_key, rsa.RSAPrivateKey) else jwt.algorithms.ECAlgorithm
    jwk = json.loads(algorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256" if algorithm is jwt.algorithms.RSAAlgorithm else "ES256", "use": "sig"}


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "other": rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


@pytest.fixture
def idp_api(tmp_path, keys) -> Api:
    jwks = json.dumps({"keys": [_jwk(keys["rsa"], "rsa-1"), _jwk(keys["ec"], "ec-1")]})
    settings = Settings(database_url=f"sqlite:///{tmp_path}/ledger.sqlite3", poll_interval=0.01, jwt_jwks=jwks,
                        jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    with TestClient(create_app(settings)) as client:
        yield Api(authenticated(client))


def token(keys: dict[str, Any], *, key: str = "rsa", kid: str = "rsa-1", alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "079090000123", "iat": now, "exp": now + 300,
            "org": "VNEID", "ledger_role": "national_operator", "ledger_scope": {}, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, keys[key], algorithm=alg, headers={"kid": kid})


def test_a_valid_jwt_is_accepted_and_its_claims_say_who_writes(idp_api, keys):
    r = idp_api.client.post("/v1/facilities", json={"code": "VP-JWT", "name": "Point", "kind": "vaccination_point",
                                                    "province_code": "01"}, headers=bearer(token(keys)))
    assert r.status_code == 201, r.text
    [event] = idp_api.ledger.events.get(UUID(r.json()["ids"]["facility_id"]))
    assert (event.actor, event.org) == ("079090000123", "VNEID")
    ec_token = token(keys, key="ec", kid="ec-1", alg="ES256", sub="citizen-7", ledger_role="auditor")
    assert idp_api.client.get("/v1/projections", headers=bearer(ec_token)).status_code == 200


@pytest.mark.parametrize("case", [
    "wrong signature", "wrong audience", "wrong issuer", "expired", "no expiry", "unknown kid", "alg none",
    "hmac with the public key", "no role", "unknown role", "scope missing", "no org", "not a jwt",
])
def test_an_unusable_jwt_is_401(idp_api, keys, case):
    if case == "alg none":
        header = {"alg": "none", "kid": "rsa-1", "typ": "JWT"}
        payload = jwt.decode(token(keys), options={"verify_signature": False})
        b64 = jwt.utils.base64url_encode
        bad = f"{b64(json.dumps(header).encode()).decode()}.{b64(json.dumps(payload).encode()).decode()}."
    elif case == "hmac with the public key":
        # The classic confusion: HS256 "signed" with the provider's public key as the shared secret
        # (built by hand: PyJWT itself refuses to use a public key as an HMAC secret).
        public = keys["rsa"].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        payload = jwt.decode(token(keys), options={"verify_signature": False})
        b64 = jwt.utils.base64url_encode
        signing = (b64(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}).encode()) + b"."
                   + b64(json.dumps(payload).encode()))
        bad = (signing + b"." + b64(hmac.new(public, signing, hashlib.sha256).digest())).decode()
    else:
        bad = {
            "wrong signature": lambda: token(keys, key="other"),
            "wrong audience": lambda: token(keys, aud="another-service"),
            "wrong issuer": lambda: token(keys, iss="https://evil.example"),
            "expired": lambda: token(keys, exp=int(time.time()) - 120),
            "no expiry": lambda: token(keys, exp=None),
            "unknown kid": lambda: token(keys, kid="rsa-2"),
            "no role": lambda: token(keys, ledger_role=None),
            "unknown role": lambda: token(keys, ledger_role="root"),
            "scope missing": lambda: token(keys, ledger_role="vaccinator"),
            "no org": lambda: token(keys, org=None),
            "not a jwt": lambda: "a.b.c",
        }[case]()
    r = idp_api.client.get("/v1/projections", headers=bearer(bad))
    assert r.status_code == 401, (case, r.text)
    assert r.json()["type"].endswith("/unauthenticated")


def test_a_jwt_scope_is_enforced_like_a_grants(idp_api, keys):
    """A provincial JWT reads its province's people and is refused others, and its reads are logged under
    a stable id for its holder."""
    api = idp_api
    person = api.register_person(id_number="079090000555", address={"province_code": "79"})
    hcm = bearer(token(keys, sub="hcdc-7", ledger_role="provincial", ledger_scope={"province_code": "79"}))
    hanoi = bearer(token(keys, sub="hanoi-1", ledger_role="provincial", ledger_scope={"province_code": "01"}))
    assert api.client.get(f"/v1/people/{person}", headers={**hcm, "X-Purpose": "care"}).status_code == 200
    assert api.client.get(f"/v1/people/{person}", headers={**hanoi, "X-Purpose": "care"}).status_code == 403
    again = bearer(token(keys, sub="hcdc-7", ledger_role="provincial", ledger_scope={"province_code": "79"}))
    assert api.client.get(f"/v1/people/{person}", headers={**again, "X-Purpose": "care"}).status_code == 200
    reads = api.get(f"/v1/people/{person}/access-log", min_position=api.head())["items"]
    assert [r["actor"] for r in reads[:2]] == ["hcdc-7", "hcdc-7"] and reads[0]["grant_id"] == reads[1]["grant_id"]


def test_jwt_settings_come_all_together():
    with pytest.raises(SecretsError):
        check_secrets(Settings(jwt_jwks='{"keys": []}', jwt_issuer=ISSUER))
