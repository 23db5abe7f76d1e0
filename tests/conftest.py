import jax

jax.config.update("jax_default_matmul_precision", "highest")

pytest_plugins = ["zoo_fixtures"]  # the zoo_env fixture


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running (whole real models)")
