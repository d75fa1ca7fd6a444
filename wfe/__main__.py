from wfe.cli.main import main

main()
