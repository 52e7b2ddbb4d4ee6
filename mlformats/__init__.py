"""Binary formats of SageMaker's built-in algorithms, in numpy and the standard library only.

``recordio`` (MXNet/dmlc RecordIO framing), ``recordio_protobuf`` (the ``aialgs.data.Record``
format of ``application/x-recordio-protobuf``), ``ndarray`` (MXNet's NDArray list, ``.params``
files), ``linear_learner`` (Linear Learner's ``model.tar.gz``) and ``im2rec`` (image RecordIO and
``.lst`` files).  The notebooks, localcloud's algorithms and Lambda functions share them.
"""
