"""The generated modules of proto/game.proto (`make proto` regenerates them; never edit by hand)."""
