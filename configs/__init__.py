"""The architecture YAML files of the registered names (installed as paddle_roformer.configs)."""
