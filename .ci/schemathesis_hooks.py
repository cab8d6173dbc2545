"""Schemathesis hooks for Parley's fuzz run (loaded through SCHEMATHESIS_HOOKS).

Every valid Idempotency-Key the fuzzer generates is replaced by a fresh one, as the contract asks
of clients: generated keys repeat (an empty-ish or fixed example), and a key reused with a
different request is rightly answered 422 idempotency_key_mismatch, which would read as a
schema-valid request rejected. Invalid keys, and every negative case, are left alone.
"""
import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"[ -~]{1,255}")


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers
    # A negative case is checked for the header it breaks; editing its headers would turn it
    # into a positive one (schemathesis revalidates), so its key is left as generated.
    if not headers or (case.meta is not None and case.meta.generation.mode.is_negative):
        return
    for name in list(headers):
        if name.lower() != "idempotency-key":
            continue
        value = headers[name]
        if isinstance(value, str) and VALID_KEY.fullmatch(value):
            headers[name] = str(uuid.uuid4())
