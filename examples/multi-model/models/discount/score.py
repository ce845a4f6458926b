"""Discount by customer tier."""


def load_model():
    return {"gold": 0.10, "silver": 0.05}


def predict(data, model=None):
    tiers = model or load_model()
    share = tiers.get(str(data.get("customer", "")), 0.0)
    return {"model": "discount", "share": share, "discount": round(float(data["amount"]) * share, 2)}
