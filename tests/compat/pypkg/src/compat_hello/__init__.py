"""compat_hello: prints its greeting.txt (package data)."""
from importlib.resources import files


def main():
    print(files(__package__).joinpath("greeting.txt").read_text().strip())
