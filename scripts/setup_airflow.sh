#!/usr/bin/env bash
# Create the separate Airflow environment at .venv-airflow (idempotent; fast when done).
#
# Why a second venv: apache-airflow-providers-apache-spark 6.x depends on pyspark-client,
# which overwrites pyspark's files in a shared venv and breaks the main venv's Spark
# (see docs/airflow.md). Airflow only needs to *launch* spark-submit; the stages run
# with the main venv's pyspark (.venv/bin/spark-submit).
#
#   scripts/setup_airflow.sh            # create / verify .venv-airflow
#   PYTHON=python3.11 scripts/setup_airflow.sh
#   AIRFLOW_VENV=/opt/airflow-venv scripts/setup_airflow.sh
set -euo pipefail

AIRFLOW_VERSION="3.3.2"
SPARK_PROVIDER_VERSION="6.3.4"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${AIRFLOW_VENV:-$ROOT/.venv-airflow}"
STAMP="$VENV/.codemill-airflow-$AIRFLOW_VERSION-spark-$SPARK_PROVIDER_VERSION"

if [[ -f "$STAMP" && -x "$VENV/bin/airflow" ]]; then
    echo "airflow venv ready: $VENV (apache-airflow==$AIRFLOW_VERSION, apache-airflow-providers-apache-spark==$SPARK_PROVIDER_VERSION)"
    exit 0
fi

# Same interpreter as the main venv unless told otherwise (Airflow 3.3 supports 3.10-3.13).
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -f "$ROOT/.venv/pyvenv.cfg" ]]; then
        PYTHON="$(sed -n 's/^executable = //p' "$ROOT/.venv/pyvenv.cfg")"
    fi
    PYTHON="${PYTHON:-python3}"
fi

echo "creating $VENV with $PYTHON (apache-airflow==$AIRFLOW_VERSION, apache-airflow-providers-apache-spark==$SPARK_PROVIDER_VERSION)"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet \
    "apache-airflow==$AIRFLOW_VERSION" \
    "apache-airflow-providers-apache-spark==$SPARK_PROVIDER_VERSION"
"$VENV/bin/airflow" version >/dev/null
touch "$STAMP"
echo "airflow venv ready: $VENV"
