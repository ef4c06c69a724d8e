"""The rows of bench/seed_tables.py: every number the five student projects (../shared/seeds/000-004) report,
the bakeoff configuration measured beside it, and what was chosen where the seed says nothing.

Imports no torch: tests/test_seed_tables.py reads the table without training anything."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What the seeds leave unstated, chosen once for every row (a row's `options` override only what the seed says).
SETUP = {
    "optimizer": "adam",  # Keras' default optimizer in every seed that names none
    "lr": 1e-3,  # Keras' Adam default
    "batch_size": 128,  # Keras' fit() default is 32; 128 is bakeoff's, and seed 004 reproduced with it (measured.md)
    "epochs": 10,  # no seed states its epochs: the TensorFlow CNN tutorial's (seed 003's basic CNN), and measured.md's
    "schedule": "none",  # constant learning rate, as Keras' fit() without callbacks
    "augment": False,
    "val_fraction": 0.1,  # bakeoff carves validation from training images: the test split never chooses
}
SETUP_WHY = ("Adam at 1e-3 (Keras' default), batch 128, 10 epochs, a constant learning rate, no augmentation, "
             "10% of the training images held out for validation (the checkpoint kept is the epoch with the lowest "
             "validation loss; the test split is only scored)")
AE_STAGES = {"finetune_blocks": 4, "backbone_lr_scale": 1.0}  # reconstruct, classify on the frozen codes, then end
# to end at the full lr: the seed's 99.64% train accuracy is out of reach of a classifier on frozen 64-d codes
# (84.92% test, docs/transfer-learning.md), and its features come from reconstruction, not ImageNet
SWEEP = {"optimizers": ["adam", "rmsprop", "adadelta"], "lrs": [1e-2, 1e-3, 1e-4]}  # seed 001's optimizers; lrs
# around Keras' defaults (1e-3 for all three in TF 2), one decade either side
SWEEP_EPOCHS = 5  # per stage: 27 autoencoder runs at 3 seeds; 20 per stage would take about 4x as long

# Training speed on this 2-core machine, in images per second of one epoch (training and validation images; for
# the autoencoder one epoch of every stage: reconstruction ~290 img/s, end to end ~1,650, the classifier on cached
# codes ~free). Used only to estimate a row's cost before it runs.
# SHARED: measured here with another job training on the same 2 cores (load average 5-7), 2 epochs on 3,000 images,
# the second epoch's time; identical runs varied up to 4x (basic-cnn on MNIST: 145 to 790 img/s), so +-2x.
THROUGHPUT_SHARED = {
    ("cnn4", "fashion-mnist"): 1650, ("simple-cnn", "fashion-mnist"): 630, ("autoencoder", "fashion-mnist"): 250,
    ("basic-cnn", "cifar10"): 300, ("resnet20", "cifar10"): 80, ("basic-cnn", "mnist"): 400,
}
# IDLE: nothing else running, where the docs measured it (speed.md: Keras comparison, s/epoch on 60,000 images;
# the autoencoder as its row measured it on a slower host, 1,490-1,500 s per run of 20 epochs per stage, against
# transfer-learning.md's 969 s), and basic-cnn as these rows measured it (load average 1.3-1.8: CIFAR-10 65-88 s
# per 10-epoch run, MNIST 65-72 s).
THROUGHPUT_IDLE = {
    ("cnn4", "fashion-mnist"): 2800, ("simple-cnn", "fashion-mnist"): 1200, ("autoencoder", "fashion-mnist"): 800,
    ("basic-cnn", "mnist"): 8100, ("basic-cnn", "cifar10"): 5400,
    ("resnet20", "cifar10"): 750,  # --augment rows, seeds 1 and 2: 614-655 s per 10-epoch run
}
RUN_OVERHEAD_S = 20  # per run: loading the data, test scoring, calibration, Grad-CAM, the report (smoke: 10-40 s)
FULL_TRAIN = {"fashion-mnist": 54_000, "mnist": 54_000, "cifar10": 45_000}  # training images after validation
SCORED = ("test_acc", "val_acc", "train_acc", "train_loss", "val_loss", "train_seconds", "images_per_s")
SEED_METRIC_NAMES = {"test_acc": "test acc", "val_acc": "val acc", "train_acc": "train acc",
                     "train_loss": "train loss", "val_loss": "val loss", "train_seconds": "train s/run",
                     "images_per_s": "train img/s"}
FASHION_FULL = "full Fashion-MNIST: 54,000 train / 6,000 validation (the seed trained on all 60,000)"
CIFAR_FULL = ("full CIFAR-10: 45,000 train / 5,000 validation; the seed's 'validation' is most likely CIFAR-10's test "
              "split (the TensorFlow tutorial validates on it), so compare its val column with test as well")
CIFAR_SEED = {  # seed 003's table, final epoch of Keras' history
    "basic CNN": {"train_acc": 0.7423, "val_acc": 0.6621, "train_loss": 0.7454, "val_loss": 1.0237},
    "ResNet": {"train_acc": 0.9502, "val_acc": 0.7971, "train_loss": 0.1456, "val_loss": 0.5853},
    "ResNet + augmentation": {"train_acc": 0.8400, "val_acc": 0.8264, "train_loss": 0.4632, "val_loss": 0.5156},
}
CIFAR_CHOICES = {
    "basic-cnn": ("basic-cnn: the TensorFlow tutorial CNN (122,570 parameters), the seed's step 1", CIFAR_FULL),
    "resnet20": ("resnet20: the seed does not state its ResNet's depth or widths; the CIFAR ResNet of He et al. 2016",
                 CIFAR_FULL),
}
CIFAR_AUGMENT = ("the seed does not state its augmentation; bakeoff's --augment is a random crop of the image padded "
                 "by 4 pixels and a horizontal flip")
PUBLISHED_IMAGENET = ("a published ImageNet accuracy, not the project's measurement: it needs ImageNet's validation "
                      "images and the original 1,000-class head, which bakeoff replaces with its own")
NO_IMAGENET = ("torchvision's ImageNet weight files cannot be downloaded on this machine and none is stored here "
               "(docs/transfer-learning.md)")


@dataclass(frozen=True)
class Row:
    """One number (or set of numbers) a seed reports, and the bakeoff configuration measured beside it."""

    id: str  # stable: README and --json refer to rows by it
    seed: str  # "000" .. "004"
    what: str  # the seed's row, in its words
    seed_numbers: dict = field(default_factory=dict)  # the seed's own: test_acc, val_acc, train_acc, train_loss, ...
    form: str = "seed setup"  # or what bakeoff changes: "+ cosine", "+ cosine + augment"
    dataset: str | None = None
    model: str | None = None
    options: dict = field(default_factory=dict)  # RunConfig fields that differ from SETUP
    sweep: dict | None = None  # {"optimizers": [...], "lrs": [...]}: the row is one compare grid
    choices: tuple[str, ...] = ()  # what the seed left unstated, and what was chosen
    unmeasurable: str | None = None  # why the row cannot be measured here
    would_measure: str | None = None  # the command that would measure it
    note: str = ""

    @property
    def measurable(self) -> bool:
        return self.unmeasurable is None


ROWS = [
    # --- seed 000: Fashion-MNIST model comparison ---
    Row("000-cnn-model-1", "000", '"CNN Model 1" (4 conv, 3 max-pool, 4 dense), Fashion-MNIST', {"test_acc": 0.8798},
        dataset="fashion-mnist", model="cnn4",
        choices=("cnn4: the seed gives layer counts only; widths, BatchNorm and dropout are bakeoff's (models/cnn.py)",
                 FASHION_FULL)),
    Row("000-cnn-model-1-cosine", "000", '"CNN Model 1", Fashion-MNIST', {"test_acc": 0.8798}, form="+ cosine",
        dataset="fashion-mnist", model="cnn4", options={"schedule": "cosine"}, choices=(FASHION_FULL,)),
    Row("000-cnn-model-2", "000", "the second CNN built from scratch", {},
        unmeasurable="the seed describes neither its architecture nor a number: there is nothing to stand beside"),
    Row("000-resnet50-imagenet", "000", "ResNet50 by transfer learning, Fashion-MNIST (no number stated)", {},
        unmeasurable=NO_IMAGENET,
        would_measure="bakeoff compare --dataset fashion-mnist --data-dir ../shared/datasets --models resnet50 "
                      "--weights ~/weights/resnet50-0676ba61.pth --freeze backbone --img-size 32 --epochs 10 "
                      "--seeds 0,1,2 --no-robustness --out runs/seed-tables/000-resnet50-imagenet"),
    Row("000-vgg16-imagenet", "000", "VGG16 by transfer learning, Fashion-MNIST (no number stated)", {},
        unmeasurable=NO_IMAGENET,
        would_measure="bakeoff compare --dataset fashion-mnist --data-dir ../shared/datasets --models vgg16 "
                      "--weights ~/weights/vgg16-397923af.pth --freeze backbone --img-size 32 --epochs 10 "
                      "--seeds 0,1,2 --no-robustness --out runs/seed-tables/000-vgg16-imagenet"),
    Row("000-vgg16-imagenet-top5", "000", "VGG16 on ImageNet, top-5 (quoted from Simonyan & Zisserman 2014)",
        {"imagenet_top5": 0.927},
        unmeasurable=PUBLISHED_IMAGENET),
    # --- seed 001: Fashion-MNIST autoencoder ---
    Row("001-autoencoder", "001", "convolutional autoencoder + 3-layer dense classifier, Fashion-MNIST",
        {"test_acc": 0.9234, "train_acc": 0.9964}, dataset="fashion-mnist", model="autoencoder",
        options={**AE_STAGES, "epochs": 20},
        choices=("three stages of 20 epochs each: reconstruction, the classifier on the frozen codes, then end to end "
                 "at the full lr (the seed states neither stages nor epochs; 20 per stage is the budget "
                 "docs/transfer-learning.md measured)", "optimizer and lr: its best is not stated; Adam 1e-3 here, "
                 "the sweep row says which is best", FASHION_FULL)),
    Row("001-autoencoder-cosine-augment", "001", "convolutional autoencoder + 3-layer dense classifier, Fashion-MNIST",
        {"test_acc": 0.9234, "train_acc": 0.9964}, form="+ cosine + augment", dataset="fashion-mnist",
        model="autoencoder", options={**AE_STAGES, "epochs": 20, "schedule": "cosine", "augment": True},
        choices=("docs/transfer-learning.md's configuration (92.45% test on seed 0), here over every seed",
                 FASHION_FULL)),
    Row("001-optimizer-sweep", "001", "Adam, RMSprop, Adadelta at several learning rates (which is best?)",
        {"test_acc": 0.9234}, form="compare grid", dataset="fashion-mnist", model="autoencoder",
        options={**AE_STAGES, "epochs": SWEEP_EPOCHS}, sweep=SWEEP,
        choices=(f"learning rates {', '.join(map(str, SWEEP['lrs']))}: the seed names none; one decade "
                 f"either side of Keras' 1e-3", f"{SWEEP_EPOCHS} epochs per stage (the seed states none): 27 runs at "
                 f"3 seeds, a quarter of 001-autoencoder's budget each",
                 "the seed's 92.34% is its best cell; it does not say which optimizer or lr gave it", FASHION_FULL),
        note="its report.html has the optimizer x learning-rate heatmap (validation accuracy, mean over seeds) and "
             "the significance section (each cell against the best on the same test images, McNemar, Holm)"),
    Row("001-vgg16-imagenet", "001", "VGG16 with a custom classifier, Fashion-MNIST (no number stated)", {},
        unmeasurable=NO_IMAGENET,
        would_measure="bakeoff compare --dataset fashion-mnist --data-dir ../shared/datasets --models vgg16 "
                      "--weights ~/weights/vgg16-397923af.pth --freeze backbone --img-size 32 "
                      "--optimizers adam,rmsprop,adadelta --lrs 1e-2,1e-3,1e-4 --epochs 10 --seeds 0,1,2 "
                      "--no-robustness --out runs/seed-tables/001-vgg16-imagenet"),
    # --- seed 002: overview slides ---
    Row("002-vgg16-imagenet-top5", "002", "VGG16 on ImageNet, 92.7% (top-5, quoted from the paper)",
        {"imagenet_top5": 0.927},
        unmeasurable=PUBLISHED_IMAGENET),
    Row("002-resnet50-imagenet", "002", 'ResNet50 on ImageNet, "up to 84.4%" (quoted, metric not stated)',
        {"imagenet": 0.844},
        unmeasurable=PUBLISHED_IMAGENET),
    # --- seed 003: CIFAR-10 CNN and ResNet, dog breeds, MNIST ---
    *[Row(f"003-cifar-{name}", "003", f"{label}, CIFAR-10", CIFAR_SEED[label], form=form, dataset="cifar10",
          model=model, options=options, choices=CIFAR_CHOICES[model] + (CIFAR_AUGMENT,) * options.get("augment", False))
      for name, label, model, form, options in (
          ("basic-cnn", "basic CNN", "basic-cnn", "seed setup", {}),
          ("basic-cnn-cosine", "basic CNN", "basic-cnn", "+ cosine", {"schedule": "cosine"}),
          ("basic-cnn-cosine-augment", "basic CNN", "basic-cnn", "+ cosine + augment",
           {"schedule": "cosine", "augment": True}),
          ("resnet", "ResNet", "resnet20", "seed setup", {}),
          ("resnet-cosine", "ResNet", "resnet20", "+ cosine", {"schedule": "cosine"}),
          ("resnet-augment", "ResNet + augmentation", "resnet20", "seed setup", {"augment": True}),
          ("resnet-cosine-augment", "ResNet + augmentation", "resnet20", "+ cosine",
           {"schedule": "cosine", "augment": True}))],
    Row("003-mnist-cnn", "003", "CNN on MNIST (the seed shows plots, no number)", {}, dataset="mnist",
        model="basic-cnn",
        choices=("basic-cnn: the seed does not describe its MNIST CNN; its own basic CNN is the closest guess",
                 "full MNIST: 54,000 train / 6,000 validation")),
    Row("003-dog-breeds", "003", "pretrained ResNet fine-tuned on a dog-breed dataset (no number stated)", {},
        unmeasurable="no dog-breed dataset on this machine (../shared/datasets holds CIFAR-10, MNIST, Fashion-MNIST "
                     "and clothing photos), and no ImageNet weights (" + NO_IMAGENET + ")",
        would_measure="bakeoff compare --dataset folder:~/dogs --models resnet50 "
                      "--weights ~/weights/resnet50-0676ba61.pth --freeze backbone --finetune-blocks 3 --epochs 10 "
                      "--seeds 0,1,2 --out runs/seed-tables/003-dog-breeds"),
    # --- seed 004: simple-cnn on 20,000 Fashion-MNIST images ---
    Row("004-simple-cnn", "004", "Conv 32, max-pool, dropout 0.2, dense 5408, dense 10 on 20,000 images",
        {"test_acc": 0.8994}, dataset="fashion-mnist", model="simple-cnn", options={"train_subset": 20000},
        choices=("simple-cnn: the seed's layers exactly (29,306,282 parameters)",
                 "20,000 stratified training images, as the seed; validation (2,000) from the images left over")),
    Row("004-simple-cnn-cosine", "004", "Conv 32, max-pool, dropout 0.2, dense 5408, dense 10 on 20,000 images",
        {"test_acc": 0.8994}, form="+ cosine", dataset="fashion-mnist", model="simple-cnn",
        options={"train_subset": 20000, "schedule": "cosine"},
        choices=("20,000 stratified training images, as the seed; validation (2,000) from the images left over",)),
]
