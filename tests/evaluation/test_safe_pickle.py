"""The PathVQA release is a pickle: read plain data, refuse anything that could run code."""

import io
import os
import pickle

import pytest

from lingshu.datasets.path_vqa import PlainUnpickler


def test_plain_records_load():
    data = [{"image": "test_0001", "question": "Is this necrosis?", "answer": "yes"}]
    assert PlainUnpickler(io.BytesIO(pickle.dumps(data))).load() == data


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_code_execution_is_refused():
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        PlainUnpickler(io.BytesIO(pickle.dumps([Evil()]))).load()
