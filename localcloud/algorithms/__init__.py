"""SageMaker built-in algorithms as local "containers".

Each algorithm is a package run as ``python -m localcloud.algorithms.<name> train|serve`` that
follows the SageMaker container contract: it reads ``/opt/ml`` (here the folder named by the
``OPT_ML`` environment variable), writes ``model/`` and ``output/failure`` when training, and
answers ``GET /ping`` and ``POST /invocations`` on ``SAGEMAKER_BIND_TO_PORT`` when serving.
"""
