from kgprune.cli import main

main()
