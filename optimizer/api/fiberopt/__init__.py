"""Generated gRPC API code (make proto); do not edit."""
