/* dlhost SDK — everything a plugin may include. */
#ifndef DLHOST_DLHOST_H
#define DLHOST_DLHOST_H

#include "status.h"
#include "tensor.h"
#include "philox.h"
#include "ew.h"
#include "backend.h"
#include "host.h"
#include "layer.h"
#include "loss.h"
#include "optimizer.h"
#include "schedule.h"
#include "augmenter.h"
#include "dataset.h"
#include "metric.h"
#include "onnx.h"
#include "plugin.h"

#endif
