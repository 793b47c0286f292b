from mldebt.cli import main

main()
