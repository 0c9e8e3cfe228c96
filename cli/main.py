"""The `voisin` command."""

def main() -> None:
    print("voisin")
