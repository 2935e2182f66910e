"""`natural_id` is `uuid.uuid5` in the ledger's namespace, built faster: it must stay exactly that."""

from __future__ import annotations

import pickle
import uuid

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.base import LEDGER_NAMESPACE, natural_id


@given(st.text(max_size=20), st.lists(st.text(max_size=40), max_size=4))
def test_natural_id_is_uuid5_of_the_joined_key(kind, parts):
    made = natural_id(kind, *parts)
    expected = uuid.uuid5(LEDGER_NAMESPACE, "/".join((kind, *parts)))
    assert made == expected and hash(made) == hash(expected)
    assert (str(made), made.version, made.variant, made.bytes) == (
        str(expected), 5, uuid.RFC_4122, expected.bytes)
    assert pickle.loads(pickle.dumps(made)) == expected
    assert uuid.UUID(str(made)) == made
