#!/usr/bin/python3
"""Reference values for tests/test_losses.c, from PyTorch.

Prints the loss and its gradient with respect to the logits for the small
cases of test_losses.c (nn.CrossEntropyLoss with class weights and label
smoothing, with class-index targets and ignore_index or with probability
targets; nn.BCEWithLogitsLoss with pos_weight; nn.MSELoss), in float32 on
the CPU, as C initialisers to paste into the test.

Sample weights (the *_sw cases) follow Keras's sample_weight: torch's
per-sample loss (reduction='none', summed over a sample's elements for
mse and bce_with_logits) times the weight, summed, then divided by what
the unweighted mean divides by: N*D for mse and bce_with_logits, N for
probability targets, and for class targets the sum of w[y_n] over the
samples not ignored (their count without class weights).  The test never needs torch; run
this again only to regenerate:  /usr/bin/python3 tests/ref/loss_ref.py
Generated with Debian's python3-torch 1.13.1.
"""
import torch
import torch.nn.functional as F

CE_X = [[1.0, 2.0, 0.5], [-1.0, 0.0, 3.0], [0.3, -0.2, 0.1], [2.5, 2.5, -1.0]]
CE_Y = [0, 2, 1, 2]
CE_W = [0.2, 1.0, 3.0]
# Logits of +-100: log-softmax must not overflow.
CE_BIG_X = [[100.0, -100.0, 0.0], [-100.0, 100.0, 100.0], [0.0, 0.0, -100.0]]
CE_BIG_Y = [0, 0, 2]
# Probability targets: rows that sum to 1, a one-hot row, and a last row
# that does not sum to 1 (torch takes it as it is: the gradient then has
# softmax * sum(w t') - w t', not softmax - w t').
CE_P = [[0.7, 0.2, 0.1], [0.0, 0.0, 1.0], [0.25, 0.5, 0.25], [0.5, 0.5, 0.5]]
CE_BIG_P = [[0.5, 0.5, 0.0], [0.1, 0.1, 0.8], [0.0, 0.0, 1.0]]
CE_ONEHOT = [[1.0 if c == y else 0.0 for c in range(3)] for y in CE_Y]
# ignore_index (default -100): sample 1 ignored, then every sample.
CE_Y_IGN = [0, -100, 1, 2]
CE_Y_ALL_IGN = [-100, -100, -100, -100]

BCE_X = [[0.5, -1.5, 2.0], [-0.3, 0.0, 4.0]]
BCE_T = [[1.0, 0.0, 1.0], [0.3, 1.0, 0.0]]
BCE_PW = [1.0, 2.0, 0.5]
BCE_BIG_X = [[100.0, -100.0, 100.0, -100.0]]
BCE_BIG_T = [[1.0, 0.0, 0.0, 1.0]]

CE_CASES = [
    # name, x, y (class indices, or probability rows), weight, label_smoothing,
    # reduction[, ignore_index]
    ("ce_plain", CE_X, CE_Y, None, 0.0, "mean"),
    ("ce_weights", CE_X, CE_Y, CE_W, 0.0, "mean"),
    ("ce_smooth", CE_X, CE_Y, None, 0.1, "mean"),
    ("ce_both", CE_X, CE_Y, CE_W, 0.25, "mean"),
    ("ce_both_sum", CE_X, CE_Y, CE_W, 0.25, "sum"),
    ("ce_plain_sum", CE_X, CE_Y, None, 0.0, "sum"),
    ("ce_big", CE_BIG_X, CE_BIG_Y, None, 0.0, "mean"),
    ("ce_big_both", CE_BIG_X, CE_BIG_Y, CE_W, 0.1, "mean"),
    ("ce_prob", CE_X, CE_P, None, 0.0, "mean"),
    ("ce_prob_weights", CE_X, CE_P, CE_W, 0.0, "mean"),
    ("ce_prob_smooth", CE_X, CE_P, None, 0.2, "mean"),
    ("ce_prob_both_sum", CE_X, CE_P, CE_W, 0.2, "sum"),
    ("ce_prob_big", CE_BIG_X, CE_BIG_P, CE_W, 0.1, "mean"),
    # One-hot rows: ce_plain's numbers; with weights the mean divides by the
    # batch, not by the weights of the targets as ce_weights does.
    ("ce_prob_onehot", CE_X, CE_ONEHOT, None, 0.0, "mean"),
    ("ce_prob_onehot_weights", CE_X, CE_ONEHOT, CE_W, 0.0, "mean"),
    ("ce_ign", CE_X, CE_Y_IGN, None, 0.0, "mean"),
    ("ce_ign_weights", CE_X, CE_Y_IGN, CE_W, 0.0, "mean"),
    ("ce_ign_smooth", CE_X, CE_Y_IGN, None, 0.3, "mean"),
    ("ce_ign_both", CE_X, CE_Y_IGN, CE_W, 0.3, "mean"),
    ("ce_ign_both_sum", CE_X, CE_Y_IGN, CE_W, 0.3, "sum"),
    # A valid class as ignore_index: samples of class 2 drop out.
    ("ce_ign_class", CE_X, CE_Y, CE_W, 0.3, "mean", 2),
    ("ce_ign_all", CE_X, CE_Y_ALL_IGN, CE_W, 0.3, "mean"),
    ("ce_ign_all_sum", CE_X, CE_Y_ALL_IGN, CE_W, 0.3, "sum"),
]

# Sample weights: one of 0 (the sample drops out of the numerator only).
SW4 = [0.5, 2.0, 0.0, 1.5]
SW2 = [2.0, 0.25]

CE_SW_CASES = [
    # name, x, y, weight, label_smoothing, reduction, ignore_index, sample weights
    ("ce_sw", CE_X, CE_Y, None, 0.0, "mean", -100, SW4),
    ("ce_sw_weights", CE_X, CE_Y, CE_W, 0.0, "mean", -100, SW4),
    ("ce_sw_both", CE_X, CE_Y, CE_W, 0.25, "mean", -100, SW4),
    ("ce_sw_both_sum", CE_X, CE_Y, CE_W, 0.25, "sum", -100, SW4),
    ("ce_sw_ign", CE_X, CE_Y_IGN, None, 0.3, "mean", -100, SW4),
    ("ce_sw_ign_both", CE_X, CE_Y_IGN, CE_W, 0.3, "mean", -100, SW4),
    ("ce_sw_prob", CE_X, CE_P, None, 0.0, "mean", -100, SW4),
    ("ce_sw_prob_both", CE_X, CE_P, CE_W, 0.2, "mean", -100, SW4),
    ("ce_sw_prob_both_sum", CE_X, CE_P, CE_W, 0.2, "sum", -100, SW4),
]

MSE_X = [[0.5, -1.5, 2.0], [-0.3, 0.0, 4.0]]
MSE_Y = [[1.0, 0.0, 1.0], [0.3, 1.0, -2.0]]

MSE_CASES = [
    # name, x, t, reduction, sample weights (None: unweighted)
    ("mse_plain", MSE_X, MSE_Y, "mean", None),
    ("mse_sw", MSE_X, MSE_Y, "mean", SW2),
    ("mse_sw_sum", MSE_X, MSE_Y, "sum", SW2),
]

BCE_SW_CASES = [
    # name, x, t, pos_weight, reduction, sample weights
    ("bce_sw", BCE_X, BCE_T, None, "mean", SW2),
    ("bce_sw_pw", BCE_X, BCE_T, BCE_PW, "mean", SW2),
    ("bce_sw_pw_sum", BCE_X, BCE_T, BCE_PW, "sum", SW2),
]

BCE_CASES = [
    # name, x, t, pos_weight, reduction
    ("bce_plain", BCE_X, BCE_T, None, "mean"),
    ("bce_pw", BCE_X, BCE_T, BCE_PW, "mean"),
    ("bce_pw1", BCE_X, BCE_T, [3.0], "mean"),
    ("bce_sum", BCE_X, BCE_T, BCE_PW, "sum"),
    ("bce_big", BCE_BIG_X, BCE_BIG_T, None, "mean"),
    ("bce_big_pw", BCE_BIG_X, BCE_BIG_T, [2.0, 0.5, 2.0, 0.5], "mean"),
]


def num(v):
    return "NAN" if v != v else "%.9g" % v


def emit(name, loss, grad):
    print("static const double %s_loss = %s;" % (name, num(loss.item())))
    flat = grad.flatten().tolist()
    print("static const double %s_grad[%d] = {" % (name, len(flat)))
    for i in range(0, len(flat), 4):
        print("    " + ", ".join(num(v) for v in flat[i:i + 4]) + ",")
    print("};")


def main():
    print("/* Generated by tests/ref/loss_ref.py with torch %s. */" % torch.__version__)
    for name, x, y, w, ls, red, *ign in CE_CASES:
        xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        wt = torch.tensor(w, dtype=torch.float32) if w else None
        # A list of rows is a float (N, C) tensor: probability targets.
        yt = torch.tensor(y, dtype=torch.float32 if isinstance(y[0], list) else None)
        loss = F.cross_entropy(xt, yt, weight=wt, label_smoothing=ls, reduction=red,
                               ignore_index=ign[0] if ign else -100)
        loss.backward()
        emit(name, loss, xt.grad)
    for name, x, t, pw, red in BCE_CASES:
        xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        pwt = torch.tensor(pw, dtype=torch.float32) if pw else None
        loss = F.binary_cross_entropy_with_logits(xt, torch.tensor(t), pos_weight=pwt,
                                                  reduction=red)
        loss.backward()
        emit(name, loss, xt.grad)
    for name, x, y, w, ls, red, ign, sw in CE_SW_CASES:
        xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        wt = torch.tensor(w, dtype=torch.float32) if w else None
        prob = isinstance(y[0], list)
        yt = torch.tensor(y, dtype=torch.float32 if prob else None)
        per = F.cross_entropy(xt, yt, weight=wt, label_smoothing=ls, reduction="none",
                              ignore_index=ign)
        total = (per * torch.tensor(sw)).sum()
        if red == "sum":
            den = 1.0
        elif prob:
            den = float(len(x))
        else:
            kept = yt[yt != ign]
            den = (wt[kept].sum() if wt is not None else float(len(kept)))
        loss = total / den
        loss.backward()
        emit(name, loss, xt.grad)
    for name, x, t, red, sw in MSE_CASES:
        xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        per = F.mse_loss(xt, torch.tensor(t), reduction="none")
        if sw is not None:
            per = per * torch.tensor(sw).unsqueeze(1)
        loss = per.sum() / (1.0 if red == "sum" else per.numel())
        loss.backward()
        emit(name, loss, xt.grad)
    for name, x, t, pw, red, sw in BCE_SW_CASES:
        xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        pwt = torch.tensor(pw, dtype=torch.float32) if pw else None
        per = F.binary_cross_entropy_with_logits(xt, torch.tensor(t), pos_weight=pwt,
                                                 reduction="none")
        per = per * torch.tensor(sw).unsqueeze(1)
        loss = per.sum() / (1.0 if red == "sum" else per.numel())
        loss.backward()
        emit(name, loss, xt.grad)


if __name__ == "__main__":
    main()
