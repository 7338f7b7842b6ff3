import os
import random

import numpy as np
import paddle
import pytest

os.environ.setdefault("PADDLE_ROFORMER_OFFLINE", "1")  # no test reaches the network by accident


@pytest.fixture(autouse=True)
def _seed():
    paddle.seed(1234)
    np.random.seed(1234)
    random.seed(1234)
    yield
