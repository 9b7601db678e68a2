"""vigil.act"""
