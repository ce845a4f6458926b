"""A tiny fraud model that needs only the Python standard library.

It scores a transaction with a fixed logistic model so that the example stack can be deployed and
called on a laptop, against mdr's embedded OCI emulator, with no ML framework installed.
"""

import json
import math
import os

MODEL_FILE = "model.json"


def load_model(model_file_name=MODEL_FILE):
    """Load the model's coefficients from the artifact folder."""
    folder = os.path.dirname(os.path.realpath(__file__))
    with open(os.path.join(folder, model_file_name), encoding="utf-8") as handle:
        return json.load(handle)


def predict(data, model=None):
    """Return the fraud probability of each transaction in ``data``.

    ``data`` is ``{"transactions": [{"amount": 120.0, "foreign": 1, "night": 0}, ...]}``.
    """
    model = model if model is not None else load_model()
    weights = model["weights"]
    scores = []
    for tx in data.get("transactions", []):
        z = model["bias"] + sum(weights[name] * float(tx.get(name, 0)) for name in weights)
        scores.append(round(1.0 / (1.0 + math.exp(-z)), 4))
    return {"prediction": scores, "model": model["version"]}
