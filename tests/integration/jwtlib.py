"""JSON Web Tokens for the integration tests (t5120, t5000): keys made and
tokens signed by the openssl command in a directory of the caller's, and
the JWKS file of the keys (docs/security.md#json-web-tokens)."""
import base64
import json
import os
import subprocess
import time

ISS = "https://idp.example.com/realms/ml"
AUD = "modeld"


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Keys:
    """Keys in directory tmp: genkey makes one, jwk describes one, token signs."""

    def __init__(self, tmp):
        self.tmp = tmp

    def openssl(self, *args, data=None):
        return subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                              check=True, cwd=self.tmp).stdout

    def genkey(self, name, rsa):
        if rsa:
            self.openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                         "-out", name)
        else:
            self.openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-out", name)

    def jwk(self, name, kid, rsa):
        if rsa:
            mod = self.openssl("rsa", "-in", name, "-noout", "-modulus").decode().strip()
            return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                    "n": b64(bytes.fromhex(mod.split("=")[1])), "e": "AQAB"}
        der = self.openssl("pkey", "-in", name, "-pubout", "-outform", "DER")
        return {"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(der[-64:-32]),
                "y": b64(der[-32:])}

    def token(self, key, hdr, claims, ec=None):
        """A compact JWS of hdr and claims signed by the key file key (None:
        no signature, the trailing dot only). ec: the signature in ES256's
        r||s form (default: when hdr's alg is ES256)."""
        s = b64(json.dumps(hdr).encode()) + "." + b64(json.dumps(claims).encode())
        if key is None:
            return s + "."
        sig = self.openssl("dgst", "-sha256", "-sign", key, data=s.encode())
        if ec if ec is not None else hdr.get("alg") == "ES256":
            sig = der_to_raw(sig)
        return s + "." + b64(sig)

    def write_jwks(self, path, keys, mode=0o644):
        with open(path, "w") as f:
            json.dump({"keys": keys}, f)
        os.chmod(path, mode)


def der_to_raw(d):
    """An ECDSA signature in DER as JWS's r||s."""
    out, i = b"", 2
    for _ in range(2):
        assert d[i] == 2
        n = d[i + 1]
        out += d[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


def claims(roles, exp_in=600, **extra):
    """Claims for ISS and AUD, subject alice, expiring exp_in seconds from now."""
    c = {"iss": ISS, "aud": AUD, "sub": "alice", "exp": int(time.time()) + exp_in,
         "roles": roles}
    c.update(extra)
    return c


def jwt_args(jwks):
    return ["--auth", "--jwt-jwks-file", jwks, "--jwt-issuer", ISS, "--jwt-audience", AUD,
            "--jwt-models-claim", "models"]
