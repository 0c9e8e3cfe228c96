"""voisin.cli"""
