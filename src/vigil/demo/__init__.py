"""vigil.demo"""
