"""The contract: game.proto and its generated modules."""
