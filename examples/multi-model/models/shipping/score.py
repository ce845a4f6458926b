"""Shipping cost from parcel weight: a base fee and a price per kilogram."""


def load_model():
    return {"base": 4.5, "perKg": 1.2}


def predict(data, model=None):
    params = model or load_model()
    cost = params["base"] + params["perKg"] * float(data.get("weightKg", 0))
    return {"model": "shipping", "cost": round(cost, 2)}
