"""voisin.market"""
