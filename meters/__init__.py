"""voisin.meters"""
