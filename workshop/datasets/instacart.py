"""Instacart Market Basket Analysis, generated: grocery orders of a few thousand shoppers in the
layout of the public Kaggle data set, and the loader that reads the real files as well.

    from workshop.datasets import instacart
    root = instacart.generate("/tmp/instacart")        # six CSV files, the same bytes for the same seed
    data = instacart.load(root)                          # or the folder of the real Kaggle download

**Layout** (Kaggle's "Instacart Market Basket Analysis", 2017; ``orders.csv`` and friends, each
optionally zipped as ``<name>.csv.zip`` the way Kaggle serves them):

* ``orders.csv``: ``order_id, user_id, eval_set, order_number, order_dow, order_hour_of_day,
  days_since_prior_order``. Each user's orders are numbered 1..n in time; all but the last are
  ``prior``; the last is ``train`` (its products are given) or ``test`` (kept secret, as Kaggle
  did). ``order_dow`` is 0-6, ``order_hour_of_day`` 0-23, ``days_since_prior_order`` is empty for
  a first order and capped at 30 ("30 or more"), written as a float (``7.0``) as in the original.
* ``order_products__prior.csv`` and ``order_products__train.csv``: ``order_id, product_id,
  add_to_cart_order, reordered`` (1 when the user had bought the product in an earlier order).
* ``products.csv`` (``product_id, product_name, aisle_id, department_id``), ``aisles.csv``
  (``aisle_id, aisle``), ``departments.csv`` (``department_id, department``; Kaggle's 21 departments
  with their ids; the aisles and products are a smaller made-up catalogue).

**Habits.** Every product has a *habit strength* from its aisle (milk, bananas and eggs are bought
again and again; spices, batteries and cleaning products rarely) and a popularity with a long tail
(a power law: a few products are in many baskets, most in few). Each shopper has

* a *rhythm*: weekly, fortnightly, monthly or irregular, which sets ``days_since_prior_order`` and how
  many orders they place (4 to 100 in all, as in the original), a favourite day and hour;
* a *repertoire* of staples, each with its own chance per order and a cycle (every order, every
  second order, ...): a staple skipped for a while is likelier in the next order, and a longer gap
  in days makes every staple likelier;
* *curiosity*: each order also brings products never bought before, picked by popularity; a tried
  product joins the repertoire with a chance that grows with its habit strength, and a staple is
  dropped now and then (tastes change), so some old favourites are never bought again.

Staples go into the cart first. So whether a user buys a product again in the next order depends on
how often and how recently they bought it, on the product's habit strength and on the user's rhythm:
what the 18 features of module 05 measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 0
USERS = 4000
TEST_USERS_FRACTION = 0.36  # the original: 75,000 of 206,209 users are Kaggle's test users
MIN_ORDERS, MAX_ORDERS = 4, 100  # per user, the last (train or test) included, as in the original
MAX_DAYS = 30  # days_since_prior_order is capped: 30 means "30 or more"
FILES = ("orders", "order_products__prior", "order_products__train", "products", "aisles", "departments")
KAGGLE_URL = "https://www.kaggle.com/c/instacart-market-basket-analysis/data"

# Kaggle's departments, with their ids.
DEPARTMENTS = ("frozen", "other", "bakery", "produce", "alcohol", "international", "beverages", "pets",
               "dry goods pasta", "bulk", "personal care", "meat seafood", "pantry", "breakfast", "canned goods",
               "dairy eggs", "household", "babies", "snacks", "deli", "missing")

# aisle -> (department, habit strength 0-1, share of the catalogue, product names to vary)
AISLES: dict[str, tuple[str, float, float, tuple[str, ...]]] = {
    "fresh fruits": ("produce", 0.9, 3.0, ("Banana", "Strawberries", "Hass Avocado", "Large Lemon", "Limes",
                                           "Blueberries", "Gala Apple", "Raspberries", "Seedless Grapes")),
    "fresh vegetables": ("produce", 0.8, 3.0, ("Baby Spinach", "Yellow Onion", "Cucumber", "Garlic", "Zucchini",
                                               "Broccoli Crown", "Carrots", "Red Bell Pepper", "Kale")),
    "packaged vegetables fruits": ("produce", 0.75, 1.5, ("Spring Mix", "Baby Carrots", "Sugar Snap Peas",
                                                         "Grape Tomatoes", "Blackberries")),
    "fresh herbs": ("produce", 0.45, 0.5, ("Cilantro", "Basil", "Italian Parsley", "Mint")),
    "milk": ("dairy eggs", 0.95, 1.5, ("Whole Milk", "Reduced Fat 2% Milk", "Half & Half", "Skim Milk")),
    "eggs": ("dairy eggs", 0.9, 0.6, ("Large Brown Eggs", "Grade A Large Eggs", "Pasture Raised Eggs")),
    "yogurt": ("dairy eggs", 0.85, 2.0, ("Greek Yogurt", "Whole Milk Plain Yogurt", "Strawberry Yogurt",
                                         "Vanilla Skyr", "Blueberry Yogurt")),
    "packaged cheese": ("dairy eggs", 0.7, 1.5, ("Shredded Mozzarella", "Sharp Cheddar", "String Cheese",
                                                 "Parmesan Wedge")),
    "butter": ("dairy eggs", 0.65, 0.4, ("Unsalted Butter", "Salted Butter")),
    "soy lactosefree": ("dairy eggs", 0.85, 0.8, ("Almond Milk", "Oat Milk", "Soy Milk", "Coconut Milk")),
    "bread": ("bakery", 0.8, 1.2, ("Whole Wheat Bread", "Sourdough Loaf", "Multigrain Bread", "Bagels")),
    "breakfast bakery": ("bakery", 0.5, 0.6, ("Croissants", "Blueberry Muffins", "English Muffins")),
    "water seltzer sparkling water": ("beverages", 0.85, 1.5, ("Sparkling Water", "Spring Water", "Lime Seltzer",
                                                               "Grapefruit Sparkling Water")),
    "coffee": ("beverages", 0.7, 0.8, ("Ground Coffee", "Whole Bean Coffee", "Cold Brew")),
    "juice nectars": ("beverages", 0.6, 0.8, ("Orange Juice", "Apple Juice", "Lemonade")),
    "soft drinks": ("beverages", 0.65, 0.8, ("Cola", "Ginger Ale", "Lemon Lime Soda")),
    "tea": ("beverages", 0.4, 0.5, ("Green Tea", "Chamomile Tea", "Black Tea")),
    "chips pretzels": ("snacks", 0.55, 1.5, ("Tortilla Chips", "Sea Salt Potato Chips", "Pretzel Twists")),
    "crackers": ("snacks", 0.5, 0.8, ("Whole Grain Crackers", "Rice Crackers", "Cheddar Crackers")),
    "cookies cakes": ("snacks", 0.35, 1.0, ("Chocolate Chip Cookies", "Oatmeal Cookies", "Pound Cake")),
    "energy granola bars": ("snacks", 0.6, 0.8, ("Chewy Granola Bars", "Protein Bars", "Fruit & Nut Bars")),
    "cereal": ("breakfast", 0.55, 0.8, ("Honey Nut Cereal", "Granola", "Corn Flakes", "Oat Cereal")),
    "hot cereal pancake mixes": ("breakfast", 0.3, 0.3, ("Rolled Oats", "Pancake Mix")),
    "frozen produce": ("frozen", 0.55, 0.8, ("Frozen Blueberries", "Frozen Peas", "Frozen Mango Chunks")),
    "frozen meals": ("frozen", 0.45, 1.0, ("Cheese Pizza", "Burrito", "Vegetable Lasagna", "Chicken Pot Pie")),
    "ice cream ice": ("frozen", 0.4, 0.8, ("Vanilla Ice Cream", "Chocolate Gelato", "Fruit Bars")),
    "poultry counter": ("meat seafood", 0.6, 0.6, ("Boneless Chicken Breasts", "Chicken Thighs", "Ground Turkey")),
    "packaged seafood": ("meat seafood", 0.35, 0.4, ("Wild Salmon Fillet", "Shrimp", "Tilapia Fillets")),
    "lunch meat": ("deli", 0.65, 0.6, ("Sliced Turkey Breast", "Black Forest Ham", "Genoa Salami")),
    "prepared soups salads": ("deli", 0.4, 0.5, ("Chicken Noodle Soup", "Hummus", "Caesar Salad Kit")),
    "spices seasonings": ("pantry", 0.12, 1.0, ("Ground Cinnamon", "Black Pepper", "Smoked Paprika",
                                                 "Garlic Powder", "Cumin")),
    "baking ingredients": ("pantry", 0.2, 0.8, ("All Purpose Flour", "Baking Soda", "Brown Sugar",
                                                 "Vanilla Extract")),
    "oils vinegars": ("pantry", 0.25, 0.5, ("Extra Virgin Olive Oil", "Balsamic Vinegar", "Avocado Oil")),
    "condiments": ("pantry", 0.3, 0.6, ("Ketchup", "Dijon Mustard", "Mayonnaise", "Hot Sauce")),
    "pasta sauce": ("dry goods pasta", 0.4, 0.5, ("Marinara Sauce", "Pesto", "Tomato Basil Sauce")),
    "dry pasta": ("dry goods pasta", 0.4, 0.5, ("Spaghetti", "Penne Rigate", "Macaroni")),
    "canned meals beans": ("canned goods", 0.35, 0.6, ("Black Beans", "Chickpeas", "Lentil Soup")),
    "cleaning products": ("household", 0.15, 0.6, ("Dish Soap", "All-Purpose Cleaner", "Laundry Detergent")),
    "paper goods": ("household", 0.3, 0.5, ("Paper Towels", "Toilet Paper", "Facial Tissues")),
    "batteries": ("household", 0.05, 0.2, ("AA Batteries", "AAA Batteries")),
    "oral hygiene": ("personal care", 0.15, 0.4, ("Toothpaste", "Dental Floss", "Mouthwash")),
    "body lotions soap": ("personal care", 0.15, 0.4, ("Body Wash", "Bar Soap", "Hand Lotion")),
    "diapers wipes": ("babies", 0.7, 0.3, ("Baby Wipes", "Diapers Size 3")),
    "baby food formula": ("babies", 0.65, 0.4, ("Apple Puree Pouch", "Infant Formula", "Veggie Puffs")),
    "cat food care": ("pets", 0.6, 0.3, ("Dry Cat Food", "Wet Cat Food Pate", "Cat Litter")),
    "beers coolers": ("alcohol", 0.45, 0.4, ("IPA Six Pack", "Lager", "Hard Seltzer")),
    "red wines": ("alcohol", 0.3, 0.3, ("Cabernet Sauvignon", "Pinot Noir")),
    "asian foods": ("international", 0.3, 0.5, ("Soy Sauce", "Ramen Noodles", "Coconut Curry Sauce")),
    "bulk dried fruits vegetables": ("bulk", 0.3, 0.2, ("Dried Mango", "Raisins")),
    "missing": ("missing", 0.25, 0.3, ("Assorted Item",)),
    "other": ("other", 0.2, 0.2, ("Gift Card Holder", "Reusable Bag")),
}
VARIANTS = ("", "Organic", "Original", "Family Size", "Low Fat", "Unsweetened", "Natural", "Classic", "Lite",
            "Gluten Free", "Extra Large", "Fresh", "Value Pack", "Premium", "Mini", "Spicy", "Honey", "Unsalted")
RHYTHMS = {  # name -> (share of users, mean days between orders, mean number of orders)
    "weekly": (0.35, 7.0, 22.0),
    "fortnightly": (0.30, 14.0, 12.0),
    "monthly": (0.20, 28.0, 7.0),
    "irregular": (0.15, 12.0, 10.0),
}
# Shoppers order more often on Sundays and Mondays (dow 0 and 1), mostly between 9:00 and 17:00.
DOW_WEIGHTS = np.array([1.6, 1.5, 1.0, 0.95, 0.9, 1.0, 1.1])
HOUR_WEIGHTS = np.array([0.7, 0.4, 0.2, 0.2, 0.2, 0.3, 1, 3, 6, 8.5, 9.5, 9.3, 9, 9, 9, 8.9, 8.6, 7.5, 6, 4.5, 3.5,
                         2.8, 2.2, 1.4])


@dataclass(frozen=True)
class Instacart:
    """The six tables, as pandas DataFrames with the original column names."""

    orders: pd.DataFrame
    prior: pd.DataFrame  # order_products__prior
    train: pd.DataFrame  # order_products__train
    products: pd.DataFrame
    aisles: pd.DataFrame
    departments: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by their file names (without ``.csv``), in the order of :data:`FILES`."""
        return dict(zip(FILES, (self.orders, self.prior, self.train, self.products, self.aisles, self.departments),
                        strict=True))


# -- catalogue ---------------------------------------------------------------------------------

def catalogue(products: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray,
                                                                np.ndarray]:
    """Departments, aisles and products; and per product its habit strength and popularity weight."""
    departments = pd.DataFrame({"department_id": np.arange(1, len(DEPARTMENTS) + 1), "department": DEPARTMENTS})
    department_id = {name: index + 1 for index, name in enumerate(DEPARTMENTS)}
    aisle_names = list(AISLES)
    aisles = pd.DataFrame({"aisle_id": np.arange(1, len(aisle_names) + 1), "aisle": aisle_names})
    shares = np.array([AISLES[name][2] for name in aisle_names])
    counts = np.maximum(1, np.floor(shares / shares.sum() * products).astype(int))
    counts[np.argmax(shares)] += products - counts.sum()
    rows, habits = [], []
    for aisle_index, (name, count) in enumerate(zip(aisle_names, counts, strict=True)):
        department, habit, _, items = AISLES[name]
        # Every (variant, item) pair once, in a seeded order; a brand-like number only when the pairs run out.
        pairs = [(variant, item) for item in items for variant in VARIANTS]
        order = rng.permutation(len(pairs))
        for index in range(count):
            variant, item = pairs[order[index % len(pairs)]]
            product_name = f"{variant} {item}".strip() + (f" No. {index // len(pairs) + 1}" if index >= len(pairs)
                                                          else "")
            rows.append((product_name, aisle_index + 1, department_id[department]))
            habits.append(np.clip(habit + rng.normal(0, 0.08), 0.02, 0.98))
    products_frame = pd.DataFrame(rows, columns=["product_name", "aisle_id", "department_id"])
    products_frame.insert(0, "product_id", np.arange(1, len(rows) + 1))
    # A long tail: popularity falls as a power of a random rank; habitual products are a little more popular.
    ranks = rng.permutation(len(rows)) + 1
    popularity = (1.0 / ranks ** 0.9) * (0.5 + np.array(habits))
    return departments, aisles, products_frame, np.array(habits), popularity / popularity.sum()


# -- shoppers ----------------------------------------------------------------------------------

def _shopper(rng: np.random.Generator, habits: np.ndarray, popularity: np.ndarray) -> tuple[list, list]:
    """One user's orders: a list of (dow, hour, days_since_prior or nan) and a list of baskets (product indexes)."""
    names = list(RHYTHMS)
    rhythm = names[rng.choice(len(names), p=[RHYTHMS[n][0] for n in names])]
    _, mean_gap, mean_orders = RHYTHMS[rhythm]
    count = int(np.clip(MIN_ORDERS + rng.geometric(1.0 / (mean_orders - MIN_ORDERS + 1)) - 1, MIN_ORDERS, MAX_ORDERS))
    basket_size = float(np.clip(rng.lognormal(np.log(8.5), 0.45), 2, 40))
    curiosity = float(rng.beta(2, 5))  # share of each basket that is new to the user
    loyalty = float(rng.beta(4, 3))  # how readily a tried product becomes a staple
    days = np.cumsum(DOW_WEIGHTS)
    favourite_dow = int(np.searchsorted(days, rng.random() * days[-1]))
    favourite_hour = int(rng.choice(24, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum()))
    cumulative = np.cumsum(popularity)

    # The repertoire: staples drawn by popularity and habit strength, each with a chance per order and a cycle.
    weights = popularity * habits ** 2
    size = int(np.clip(round(basket_size * rng.uniform(0.8, 1.6)), 2, 60))
    staple = rng.choice(len(popularity), size=size, replace=False, p=weights / weights.sum())
    chance = np.clip(rng.beta(1 + 5 * habits[staple], 3.5), 0.05, 0.95)
    cycle = rng.choice([1, 1, 2, 3, 4], size=size)
    last = -cycle.copy()  # as if bought a full cycle before the first order
    bought: set[int] = set()
    orders, baskets = [], []
    for number in range(count):
        if number == 0:
            gap = float("nan")
        elif rhythm == "irregular":
            gap = float(rng.integers(1, MAX_DAYS + 1))
        else:
            gap = float(min(MAX_DAYS, max(0, round(rng.gamma(8.0, mean_gap / 8.0)))))
        dow = favourite_dow if rng.random() < 0.5 else int(np.searchsorted(days, rng.random() * days[-1]))
        hour = min(23, max(0, favourite_hour + round(rng.normal(0, 2))))
        orders.append((dow, hour, gap))

        gap_factor = 1.0 if number == 0 else 0.75 + 0.5 * gap / MAX_DAYS
        since = number - last
        taken = rng.random(len(staple)) < np.minimum(0.98, chance * gap_factor * np.minimum(1.0, since / cycle))
        last[taken] = number
        # Staples go into the cart first, the likeliest first; new products after them.
        keys = list(zip((-chance[taken] + rng.normal(0, 0.25, taken.sum())).tolist(), staple[taken].tolist(),
                        strict=True))
        in_basket = set(staple[taken].tolist())
        tried = np.searchsorted(cumulative, rng.random(rng.poisson(max(0.3, basket_size * curiosity))) * cumulative[-1])
        fresh = [int(p) for p in dict.fromkeys(tried.tolist()) if p not in bought and p not in in_basket]
        keys += zip((0.6 + rng.normal(0, 0.3, len(fresh))).tolist(), fresh, strict=True)
        if not keys:  # nobody orders an empty basket
            keys.append((0.0, int(np.searchsorted(cumulative, rng.random() * cumulative[-1]))))
        # A tried product may become a staple; now and then a staple is dropped (tastes change).
        adopted = [p for p in fresh if rng.random() < loyalty * habits[p] ** 1.5 and p not in staple]
        kept = rng.random(len(staple)) >= 0.015
        if adopted or not kept.all():
            staple = np.concatenate([staple[kept], np.array(adopted, dtype=staple.dtype)])
            chance = np.concatenate([chance[kept], rng.beta(1 + 3 * habits[adopted], 4) if adopted else []])
            cycle = np.concatenate([cycle[kept], rng.choice([1, 2, 3, 4], size=len(adopted))])
            last = np.concatenate([last[kept], np.full(len(adopted), number)])
        basket = [product for _, product in sorted(keys)]
        bought.update(basket)
        baskets.append(basket)
    return orders, baskets


def simulate(users: int = USERS, products: int = 1200, seed: int = SEED,
             test_users_fraction: float = TEST_USERS_FRACTION) -> Instacart:
    """The six tables in memory (see :func:`generate` for the files)."""
    rng = np.random.default_rng(seed)
    departments, aisles, products_frame, habits, popularity = catalogue(products, rng)
    order_rows, item_rows = [], []
    for user in range(1, users + 1):
        orders, baskets = _shopper(rng, habits, popularity)
        last_set = "test" if rng.random() < test_users_fraction else "train"
        seen: set[int] = set()
        for number, ((dow, hour, gap), basket) in enumerate(zip(orders, baskets, strict=True), start=1):
            eval_set = "prior" if number < len(orders) else last_set
            order_rows.append((user, eval_set, number, dow, hour, gap))
            if eval_set != "test":
                for position, product in enumerate(basket, start=1):
                    item_rows.append((len(order_rows) - 1, product + 1, position,
                                      int(product in seen), eval_set))
            seen.update(basket)
    orders = pd.DataFrame(order_rows, columns=["user_id", "eval_set", "order_number", "order_dow", "order_hour_of_day",
                                               "days_since_prior_order"])
    # Order ids are unrelated to users and time, as in the original.
    orders.insert(0, "order_id", rng.permutation(len(orders)) + 1)
    items = pd.DataFrame(item_rows, columns=["row", "product_id", "add_to_cart_order", "reordered", "eval_set"])
    items.insert(0, "order_id", orders.order_id.to_numpy()[items.pop("row").to_numpy()])
    eval_sets = items.pop("eval_set")
    prior, train = ((items[eval_sets == name].sort_values(["order_id", "add_to_cart_order"]).reset_index(drop=True))
                    for name in ("prior", "train"))
    return Instacart(orders, prior, train, products_frame, aisles, departments)


def generate(root: str | Path, users: int = USERS, products: int = 1200, seed: int = SEED,
             test_users_fraction: float = TEST_USERS_FRACTION) -> Path:
    """Write the six CSV files of the Kaggle layout into ``root``; return ``root``. Same seed, same bytes."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    data = simulate(users, products, seed, test_users_fraction)
    for name, frame in data.tables().items():
        frame.to_csv(root / f"{name}.csv", index=False, float_format="%.1f", lineterminator="\n")
    return root


# -- loading -----------------------------------------------------------------------------------

DTYPES = {
    "orders": {"order_id": "int32", "user_id": "int32", "eval_set": "category", "order_number": "int16",
               "order_dow": "int8", "order_hour_of_day": "int8", "days_since_prior_order": "float32"},
    "order_products__prior": {"order_id": "int32", "product_id": "int32", "add_to_cart_order": "int16",
                              "reordered": "int8"},
    "order_products__train": {"order_id": "int32", "product_id": "int32", "add_to_cart_order": "int16",
                              "reordered": "int8"},
    "products": {"product_id": "int32", "product_name": "string", "aisle_id": "int16", "department_id": "int8"},
    "aisles": {"aisle_id": "int16", "aisle": "string"},
    "departments": {"department_id": "int8", "department": "string"},
}


def load(root: str | Path) -> Instacart:
    """Read the six files from ``root``: generated ones or the real Kaggle download (``.csv`` or ``.csv.zip``),
    with compact dtypes (the real order_products__prior.csv has 32 million rows)."""
    root = Path(root)
    paths, missing = {}, []
    for name in FILES:
        found = [p for p in (root / f"{name}.csv", root / f"{name}.csv.zip") if p.exists()]
        if found:
            paths[name] = found[0]
        else:
            missing.append(f"{name}.csv")
    if missing:
        raise FileNotFoundError(f"{root} lacks {', '.join(missing)}: generate them with instacart.generate(root) "
                                f"or download the real files from {KAGGLE_URL}")
    tables = {}
    for name, path in paths.items():
        frame = pd.read_csv(path, dtype=DTYPES[name])
        absent = sorted(set(DTYPES[name]) - set(frame.columns))
        if absent:
            raise ValueError(f"{path} lacks the column(s) {absent} of the Instacart layout")
        tables[name] = frame
    return Instacart(tables["orders"], tables["order_products__prior"], tables["order_products__train"],
                     tables["products"], tables["aisles"], tables["departments"])
