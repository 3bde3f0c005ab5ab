from hadamard_restore.cli import main

main()
