"""Train the 4-input model of bench/extract: a biasless 4-WIDTH-1 MLP on min(x1, x2) + min(x3, x4).

Usage: python bench/extract/train_min_pairs4.py SEED WIDTH OUT.json   (torch 2.13.0 CPU, one thread)
Adam lr 0.01 with a step decay (x0.3 every 1500 steps), 6000 steps of 256 fresh points uniform on
[-1, 1]^4, MSE. Prints the final batch loss and the largest error on 4096 fresh points (floats).
"""
import torch, json, sys
seed = int(sys.argv[1]); width = int(sys.argv[2])
torch.manual_seed(seed); torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Linear(4, width, bias=False), torch.nn.ReLU(), torch.nn.Linear(width, 1, bias=False))
opt = torch.optim.Adam(net.parameters(), lr=0.01)
sched = torch.optim.lr_scheduler.StepLR(opt, 1500, 0.3)
f = lambda x: torch.minimum(x[:, 0], x[:, 1]) + torch.minimum(x[:, 2], x[:, 3])
for step in range(6000):
    x = torch.rand(256, 4) * 2 - 1
    loss = ((net(x).squeeze(1) - f(x)) ** 2).mean()
    opt.zero_grad(); loss.backward(); opt.step(); sched.step()
x = torch.rand(4096, 4) * 2 - 1
err = (net(x).squeeze(1) - f(x)).abs().max().item()
layers = [{"W": l.weight.detach().tolist(), "b": [0.0] * l.weight.shape[0]} for l in net if isinstance(l, torch.nn.Linear)]
json.dump({"layers": layers}, open(sys.argv[3], "w"))
print(seed, width, loss.item(), err)
