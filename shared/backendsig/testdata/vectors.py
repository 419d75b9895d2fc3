#!/usr/bin/env python3
"""Independent (non-Go) implementation of the Portcullis backend signature,
used to generate vectors.json. Run: python3 vectors.py > vectors.json

It doubles as the reference for implementing verification in another
language: see ../doc.go for the scheme."""
import base64, hashlib, hmac, json

def canonical(t, rid, method, target, body, tenant, user):
    return "\n".join([str(t), rid, method, target,
                      hashlib.sha256(body).hexdigest(), tenant, user]).encode()

def header(t, rid, keys, canon):
    parts = ["t=%d" % t, "id=" + rid]
    for k in keys:
        mac = hmac.new(base64.b64decode(k["secret_base64"]), canon, hashlib.sha256).hexdigest()
        parts += ["kid=" + k["kid"], "v1=" + mac]
    return ",".join(parts)

K1 = {"kid": "k1", "secret_base64": base64.b64encode(b"portcullis-test-secret-k1-0123456789").decode()}
K2 = {"kid": "k2", "secret_base64": base64.b64encode(bytes(range(32))).decode()}

cases = [
    dict(name="post with json body and query", keys=[K1], t=1767225600, id="req-0001",
         method="POST", target="/v1/orders?expand=items&limit=10", body='{"amount":42,"currency":"EUR"}',
         tenant="acme", user="user-123"),
    dict(name="get with escaped path and query", keys=[K1], t=1767225601, id="req-0002",
         method="GET", target="/v1/files/a%2Fb/c%20d?q=hello%20world&x=1&x=2", body="",
         tenant="tenant_9", user="alice@example.com"),
    dict(name="platform call without tenant or user", keys=[K1], t=1767225602, id="req-0003",
         method="DELETE", target="/items/1", body="", tenant="", user=""),
    dict(name="rotation overlap, two keys", keys=[K1, K2], t=1767225603, id="01JF8Z3V9K6Q2N7X",
         method="PUT", target="/v1/orders/42", body="{\"status\":\"shipped\"}\n",
         tenant="acme", user="user-123"),
]
for c in cases:
    canon = canonical(c["t"], c["id"], c["method"], c["target"], c["body"].encode(), c["tenant"], c["user"])
    c["canonical"] = canon.decode()
    c["header"] = header(c["t"], c["id"], c["keys"], canon)
print(json.dumps(cases, indent=2))
