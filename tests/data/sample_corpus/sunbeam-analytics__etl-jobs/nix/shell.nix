# Development shell for the ETL jobs: `nix-shell nix/shell.nix`
{ pkgs ? import <nixpkgs> { } }:

pkgs.mkShell {
  name = "sunbeam-etl";
  buildInputs = [
    (pkgs.python311.withPackages (ps: with ps; [ psycopg2 pytest ]))
    pkgs.postgresql_15
    pkgs.jq
  ];
  shellHook = ''
    export PGHOST=127.0.0.1
    export PGDATABASE=analytics
    echo "sunbeam etl shell: python $(python --version 2>&1 | cut -d' ' -f2), psql ready"
  '';
}
