"""HTTP handlers: parse a model, call the store or engine, return a model. No business rules."""
