from app.blueprints.help import contact  # noqa: F401  (its routes join the blueprint)
