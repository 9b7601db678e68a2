"""vigil.bench"""
