"""Data Science (/20190101): projects, models and their artifacts, model deployments, and predict."""
