"""voisin.ledger"""
