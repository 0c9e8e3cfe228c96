"""voisin.agents"""
