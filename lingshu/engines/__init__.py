"""Inference back ends. Every component that generates text goes through `Engine.generate`."""
