#!/usr/bin/env python3
"""Build kgprune's bundled mini knowledge graph (standard library only, deterministic).

Writes, relative to the repository root:

* ``kgprune/kg/data/conceptnet-mini.csv.gz``: hand-written everyday common sense in the exact
  ConceptNet 5.7 assertion format (no header; ``assertion_uri  rel  start  end  info_json``,
  tab-separated; info JSON via ``json.dumps(ensure_ascii=False, sort_keys=True)``), gzip with
  ``mtime=0`` so the bytes are identical on every run.
* ``kgprune/kg/data/visual_genome/{image_data,objects,attributes,relationships,scene_graphs}.json``:
  24 small Visual Genome 1.2/1.4-style scene graphs whose object names are concepts of the file above.

All facts are written here by hand (no ConceptNet data is copied). The tables are compact:

* ``OBJECTS``: one row per visual object,
  ``name | IsA | UsedFor | AtLocation | MadeOf | HasProperty | CapableOf | ReceivesAction | HasA | PartOf``
  (items comma-separated, ``-`` for none).
* ``FACTS``: ``Relation start: end, end, ...`` lines for everything else (categories, places,
  materials, people, negatives, lexical relations).
* ``QUIRK_ROWS``: the handful of rows that exercise loader edge cases (sense-tagged URIs, rows that
  collapse onto another row's term-level triple, non-English and cross-language rows, ExternalURL,
  DBpedia relations).

Run: ``python3 tools/make_bundled_kg.py`` (from anywhere); prints row / concept counts at the end.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "kgprune" / "kg" / "data"
CN_PATH = DATA / "conceptnet-mini.csv.gz"
VG_DIR = DATA / "visual_genome"

# ---------------------------------------------------------------------------------------------
# 1. Visual objects
# ---------------------------------------------------------------------------------------------
# name | IsA | UsedFor | AtLocation | MadeOf | HasProperty | CapableOf | ReceivesAction | HasA | PartOf
OBJECTS = """
# --- kitchen and tableware
cup | container, tableware | drink, drink_coffee, drink_tea, hold_liquid | kitchen, cupboard, table, cafe, coffee_shop | ceramic, glass, plastic, paper | small, round, hollow | hold_liquid | filled, washed, broken, emptied | handle, rim | -
mug | cup, container | drink_coffee, drink_tea, drink_hot_chocolate | kitchen, office, cafe, cupboard, desk | ceramic, porcelain, glass | thick, round, sturdy | hold_hot_drinks | filled, washed | handle | -
plate | tableware, dish | hold_food, serve_food, eat_from | kitchen, cupboard, table, restaurant, dishwasher | ceramic, porcelain, plastic, paper | flat, round, white | hold_food | washed, broken, stacked | rim | -
bowl | tableware, dish, container | hold_soup, eat_cereal, mix_ingredients, serve_food | kitchen, cupboard, table, restaurant | ceramic, glass, plastic, wood | round, deep, curved | hold_liquid | filled, washed, stacked | rim | -
fork | cutlery, utensil | eat, pick_up_food, eat_salad, eat_pasta | kitchen, drawer, table, restaurant | metal, steel, plastic, silver | pointy, shiny | - | washed, held | tine, handle | -
knife | cutlery, utensil, tool | cut, cut_food, slice_bread, spread_butter, chop_vegetables | kitchen, drawer, knife_block, table, restaurant | steel, metal | sharp, pointy, shiny, dangerous | cut | sharpened, held, washed | blade, handle | -
spoon | cutlery, utensil | eat_soup, stir, eat_cereal, measure_ingredients, eat_ice_cream | kitchen, drawer, table, restaurant | metal, steel, plastic, wood, silver | shiny, curved | - | washed, held | handle | -
glass | container, tableware, material | drink_water, drink_wine, drink_juice, hold_liquid, make_windows | kitchen, cupboard, table, bar | sand | transparent, fragile, clear, hard, smooth | hold_liquid, break | filled, broken, washed, recycled | rim | window
bottle | container | hold_liquid, store_water, hold_wine, hold_milk | refrigerator, kitchen, store, bar, picnic | glass, plastic | tall, narrow | hold_liquid | opened, filled, recycled, emptied | cap, neck, label | -
pot | cookware | cook, boil_water, make_soup, cook_pasta | kitchen, stove, cupboard | metal, steel, aluminum, iron | heavy, deep | hold_water | heated, washed, filled | handle, lid | -
pan | cookware | fry, cook, fry_eggs, make_pancakes | kitchen, stove, cupboard | metal, iron, steel, aluminum | flat, hot, heavy | - | heated, washed, greased | handle | -
kettle | container, kitchen_appliance | boil_water, make_tea | kitchen, stove, counter | metal, steel, plastic | hot, loud | boil_water, whistle | filled, heated, plugged_in | spout, handle, lid | -
teapot | container | make_tea, serve_tea, pour_tea | kitchen, table, cafe | ceramic, porcelain, metal | round, hot | - | filled, washed | spout, handle, lid | -
cutting_board | kitchenware | cut_food, chop_vegetables, slice_bread | kitchen, counter | wood, plastic, bamboo | flat, hard | - | washed | - | -
napkin | household_item | wipe_mouth, clean_hands, wipe_face | table, restaurant, kitchen, picnic | paper, cloth | soft, thin, white | absorb_liquid | folded, used, thrown_away | - | -
oven | kitchen_appliance, appliance | bake, cook, roast, bake_bread, bake_cake | kitchen, bakery, restaurant | metal, steel, glass | hot | heat_food, bake | opened, heated, cleaned, preheated | door, rack, knob | -
stove | kitchen_appliance, appliance | cook, boil_water, heat_food | kitchen, restaurant | metal, steel, iron | hot | heat_food | turned_on, cleaned | burner, knob | -
microwave | kitchen_appliance, appliance | heat_food, cook, defrost_food, make_popcorn | kitchen, office, counter | metal, plastic, glass | fast, electric | heat_food | turned_on, opened | door, button, timer | -
refrigerator | kitchen_appliance, appliance | keep_food_cold, store_food, chill_drinks | kitchen, restaurant | metal, steel, plastic | cold, large, heavy, white | keep_food_cold | opened, closed, filled | freezer, door, shelf | -
toaster | kitchen_appliance, appliance | toast_bread, make_toast | kitchen, counter | metal, plastic | hot, electric | toast_bread | plugged_in, turned_on | slot, lever | -
blender | kitchen_appliance, appliance | make_smoothie, blend_food, make_milkshake | kitchen, counter | plastic, glass, metal | loud, electric | blend_food | turned_on, washed | blade, lid | -
sink | fixture | wash_dishes, wash_hands, wash_face | kitchen, bathroom | metal, steel, porcelain | wet | hold_water | cleaned, filled, clogged | faucet, drain | -
faucet | fixture | get_water, fill_glass | sink, kitchen, bathroom | metal, steel, brass | shiny | drip | turned_on, turned_off | handle | sink
dishwasher | kitchen_appliance, appliance | wash_dishes, clean_dishes | kitchen, restaurant | metal, steel, plastic | wet, electric | wash_dishes | loaded, emptied, opened | door, rack | -
coffee_maker | kitchen_appliance, appliance | make_coffee, brew_coffee | kitchen, office, cafe | plastic, metal, glass | electric, hot | make_coffee | turned_on, cleaned | filter, carafe | -
# --- food and drink
apple | fruit | eat, make_pie, make_juice, make_cider | kitchen, fruit_bowl, tree, grocery_store, orchard | - | red, green, sweet, round, crunchy, healthy, juicy | - | eaten, peeled, sliced, picked | seed, skin, stem, core | -
banana | fruit | eat, make_smoothie, make_banana_bread | kitchen, fruit_bowl, grocery_store, tropics | - | yellow, sweet, soft, curved, long, ripe | - | eaten, peeled, mashed | peel | -
orange | fruit, citrus_fruit | eat, make_juice, make_orange_juice | kitchen, fruit_bowl, tree, grocery_store | - | sweet, juicy, round | - | peeled, eaten, squeezed | peel, seed | -
lemon | citrus_fruit, fruit | make_lemonade, flavor_food, flavor_water | kitchen, tree, grocery_store | - | yellow, sour, juicy | - | squeezed, sliced | peel, seed | -
strawberry | fruit, berry | eat, make_jam, make_smoothie | garden, field, grocery_store, refrigerator | - | red, sweet, small, juicy | - | eaten, picked, washed | seed, leaf | -
grape | fruit, berry | eat, make_wine, make_juice, make_raisins | vineyard, kitchen, grocery_store, fruit_bowl | - | purple, green, small, sweet, round | - | eaten, picked, squeezed | seed, skin | -
watermelon | fruit | eat, make_juice | farm, picnic, grocery_store | - | green, red, large, heavy, juicy, sweet | - | sliced, eaten | seed, rind | -
tomato | vegetable, fruit | make_sauce, make_salad, make_ketchup | garden, kitchen, grocery_store | - | red, round, juicy | - | sliced, eaten, chopped | seed, skin | -
carrot | vegetable, root_vegetable | eat, make_soup, feed_rabbits | garden, kitchen, grocery_store | - | orange, crunchy, long, healthy | - | eaten, peeled, grated | - | -
broccoli | vegetable | eat, make_soup | kitchen, garden, grocery_store | - | green, healthy | - | steamed, eaten, cooked | stem, floret | -
potato | vegetable, root_vegetable | make_french_fries, make_chips, cook, make_mashed_potatoes | kitchen, garden, field, grocery_store | - | brown, starchy, hard | - | peeled, boiled, baked, mashed, fried | skin | -
onion | vegetable | flavor_food, cook, make_soup | kitchen, garden, grocery_store | - | strong, white, round | make_people_cry | chopped, peeled, sliced | skin, layer | -
lettuce | vegetable, leafy_vegetable | make_salad, make_sandwich | garden, refrigerator, grocery_store | - | green, crunchy, leafy | - | washed, eaten | leaf | salad
corn | vegetable, grain | eat, make_popcorn, feed_animals | farm, field, grocery_store | - | yellow, sweet | - | eaten, cooked, harvested | kernel, cob | -
bread | food, baked_good | eat, make_sandwich, make_toast | bakery, kitchen, grocery_store | flour, wheat, yeast, water | soft, brown | - | baked, sliced, toasted, eaten | crust, slice | sandwich
cheese | dairy_product, food | eat, make_sandwich, make_pizza | refrigerator, kitchen, grocery_store | milk | yellow, salty, soft | - | sliced, melted, grated, eaten | - | -
egg | food | eat, bake_cake, make_omelette | refrigerator, kitchen, nest, farm | - | white, oval, fragile | hatch | boiled, fried, cracked, scrambled | shell, yolk | -
milk | dairy_product, drink | drink, make_cheese, make_butter, bake | refrigerator, grocery_store, farm, glass | - | white, cold, liquid, healthy | spoil | drunk, poured, spilled | - | -
butter | dairy_product | spread_on_bread, bake, cook | refrigerator, kitchen | milk, cream | yellow, soft, fatty | melt | spread, melted | - | -
pizza | food, fast_food | eat, share | restaurant, pizzeria, kitchen, oven, table | dough, cheese, tomato_sauce | hot, round, cheesy, delicious | - | baked, sliced, eaten, delivered | crust, cheese, topping, slice | -
sandwich | food, fast_food, meal | eat, eat_lunch | kitchen, restaurant, lunch_box, picnic | bread, cheese, meat | tasty, filling | - | eaten, wrapped | bread, filling | -
hot_dog | food, fast_food | eat, eat_lunch | restaurant, stadium, food_cart, street | sausage, bun | hot, long | - | eaten, grilled | bun, sausage | -
cake | dessert, baked_good | eat, celebrate_birthday, celebrate | bakery, party, kitchen, birthday_party | flour, sugar, egg, butter | sweet, soft, delicious | - | baked, eaten, sliced, decorated | frosting, candle, layer | -
donut | dessert, baked_good, snack | eat, eat_breakfast | bakery, donut_shop, cafe, coffee_shop | dough, flour, sugar | sweet, round, fried | - | eaten, fried, glazed | hole, frosting | -
cookie | dessert, snack, baked_good | eat, eat_snack | bakery, cookie_jar, kitchen | flour, sugar, butter | sweet, crunchy, round | - | baked, eaten, dunked | chocolate_chip | -
pasta | food | eat, eat_dinner | kitchen, restaurant, italy | flour, wheat, egg | starchy | - | boiled, cooked, eaten | - | -
rice | grain, food | eat, make_sushi | kitchen, rice_field, asia, restaurant | - | white, small | - | boiled, cooked, eaten | - | -
soup | food | eat, warm_up | bowl, kitchen, restaurant, pot | water, vegetable | hot, liquid | - | eaten, heated, served | - | -
salad | food | eat, eat_healthy | bowl, restaurant, kitchen | lettuce, vegetable, tomato | healthy, fresh, green | - | eaten, tossed | - | -
ice_cream | dessert | eat, cool_down | freezer, ice_cream_shop, refrigerator | milk, cream, sugar | cold, sweet, creamy | melt | eaten, scooped, licked | - | -
chocolate | candy, food | eat, make_hot_chocolate, bake | store, kitchen, candy_store | cocoa, sugar, milk | sweet, brown | melt | eaten, melted | - | -
coffee | drink | drink, wake_up, stay_awake | cafe, kitchen, office, coffee_shop, mug | coffee_bean, water | hot, bitter, brown, dark | - | drunk, brewed, poured | caffeine | -
tea | drink | drink, relax | cafe, kitchen, teapot, cup | tea_leaf, water | hot | - | drunk, brewed, sipped | caffeine | -
water | liquid, drink | drink, wash, clean, cook, swim_in | sink, ocean, lake, river, bottle, glass | - | wet, clear, liquid, transparent | flow, freeze, boil | drunk, poured, boiled, spilled | - | -
juice | drink | drink | refrigerator, glass, kitchen, grocery_store | fruit | sweet, cold | - | drunk, poured, squeezed | - | -
wine | drink, alcohol | drink, celebrate, cook | bar, restaurant, vineyard, wine_cellar | grape | red, white | - | drunk, poured | - | -
meat | food | eat, make_sandwich | refrigerator, butcher_shop, grocery_store | - | fatty | - | cooked, grilled, eaten | protein | -
honey | food, sweetener | sweeten_tea, eat | hive, jar, kitchen | - | sweet, sticky, golden | - | eaten | - | -
# --- furniture and household
chair | furniture, seat | sit, rest | kitchen, office, dining_room, classroom, table | wood, metal, plastic | hard, sturdy | support_weight | sat_on, moved | leg, backrest, armrest | -
table | furniture | eat_at, put_things_on, eat, work_at | kitchen, dining_room, restaurant, office | wood, metal, glass, plastic | flat, sturdy, hard | hold_objects | set, cleaned, wiped | leg, tabletop | -
couch | furniture, seat | sit, sleep, relax, watch_television | living_room, house, office | fabric, leather, wood | soft, comfortable, large | - | sat_on | cushion, armrest | -
bed | furniture | sleep, rest, lie_down | bedroom, hotel, hospital | wood, metal | soft, comfortable, large | - | made, slept_in | mattress, pillow, headboard | -
desk | furniture, table | work, write, study, use_computer | office, classroom, bedroom | wood, metal | flat, sturdy | - | cleaned | drawer, leg | -
shelf | furniture | store_things, hold_books, display_things | wall, kitchen, closet, library, store | wood, metal, glass | flat | hold_books | mounted, dusted | - | bookcase, refrigerator, cabinet
bookcase | furniture | store_books, hold_books | library, living_room, office, bedroom | wood | tall | hold_books | filled | shelf | -
cabinet | furniture | store_dishes, store_things | kitchen, bathroom, office | wood, metal | sturdy | - | opened, closed | door, shelf, handle, drawer | -
drawer | container | store_things, store_socks | desk, dresser, kitchen, cabinet | wood, metal, plastic | rectangular | - | opened, closed, pulled | handle, knob | desk, dresser, cabinet
dresser | furniture | store_clothes | bedroom | wood | heavy | - | dusted, moved | drawer, mirror | -
lamp | light_source, furniture | light_room, read, give_light | bedroom, living_room, desk, office, table | metal, glass, plastic | bright, electric | give_light | turned_on, turned_off | light_bulb, lampshade, switch | -
bench | furniture, seat | sit, rest, wait_for_bus | park, bus_stop, garden, street, gym | wood, metal, stone | long, hard | - | sat_on, painted | backrest | -
pillow | bedding | sleep, rest_head | bed, bedroom, couch | cotton, feather, fabric | soft, comfortable, fluffy | - | fluffed, slept_on | pillowcase | bed
blanket | bedding | keep_warm, cover_bed | bed, bedroom, couch | wool, cotton, fabric | soft, warm | keep_people_warm | folded, washed | - | bed
mirror | household_item | see_reflection, check_appearance, comb_hair | bathroom, bedroom, wall, car | glass, metal | reflective, shiny, fragile | reflect_light | hung, broken, cleaned | frame | -
curtain | household_item | block_light, cover_window, give_privacy | window, bedroom, living_room | fabric, cloth | long | block_light | opened, closed, hung | - | -
rug | floor_covering | cover_floor, decorate_room | floor, living_room, bedroom | wool, fabric | soft | - | vacuumed, rolled | - | -
clock | timepiece, device | tell_time, wake_up | wall, kitchen, classroom, office, bedroom, tower | plastic, metal, wood, glass | round | tell_time, tick | wound, set, hung | hand, face, number | -
vase | container, decoration | hold_flowers, decorate | table, living_room, shelf | glass, ceramic, porcelain | fragile, decorative | hold_flowers | filled, broken | - | -
toilet | fixture | go_to_bathroom, flush_waste | bathroom | porcelain, ceramic | white | flush | flushed, cleaned | seat, lid, tank | -
bathtub | fixture | take_bath, bathe, wash | bathroom | porcelain, ceramic, acrylic | white, large | hold_water | filled, drained | drain, faucet | -
shower | fixture | take_shower, wash, rinse_off | bathroom, gym | metal, tile, glass | wet | spray_water | turned_on | showerhead, faucet | -
towel | household_item | dry_off, dry_hands, dry_dishes | bathroom, kitchen, beach, gym | cotton, cloth | soft, absorbent | absorb_water | folded, washed, hung | - | -
toothbrush | toiletry | brush_teeth, clean_teeth | bathroom, sink, cup | plastic | small | - | rinsed, replaced | bristle, handle | -
soap | toiletry | wash, wash_hands, clean | bathroom, sink, shower, kitchen | oil, fat | slippery | remove_dirt | lathered, rinsed | - | -
candle | light_source, decoration | give_light, decorate | table, cake, church | wax | hot, bright | burn, melt | lit, blown_out | wick, flame | -
book | publication | read, learn, study | library, bookcase, school, bookstore, shelf | paper | interesting | - | read, written, opened, closed | page, cover | -
newspaper | publication | read, read_news, wrap_things | newsstand, doorstep, table | paper | informative, thin | - | read, delivered, folded | page | -
paper | material | write_on, draw_on, make_books, wrap_gifts | office, desk, printer, notebook | wood, wood_pulp | thin, white, flat | - | written_on, folded, cut, recycled | - | book
box | container | store_things, hold_things, ship_things | attic, garage, closet, store | cardboard, wood, paper | square | hold_things | opened, packed, closed, taped | lid | -
basket | container | carry_things, hold_fruit | kitchen, picnic, store | wicker, straw, plastic | light | hold_things | carried, filled | handle | -
bag | container | carry_things, carry_groceries | store, car, closet | plastic, paper, cloth | light | hold_things | carried, filled | handle, strap | -
teddy_bear | toy, stuffed_animal | play, hug, comfort_child | bedroom, bed, toy_store | fabric, cotton | soft, cute, furry | - | hugged, cuddled | - | -
balloon | toy, decoration | decorate, play, celebrate | party, birthday_party | rubber, latex | colorful, round, light | float, pop | inflated, popped | string | -
guitar | musical_instrument, string_instrument | play_music, make_music | stage, music_store, concert, bedroom | wood | musical | make_music | played, strummed, tuned | string, neck | -
piano | musical_instrument, keyboard_instrument | play_music | living_room, concert_hall, church | wood | large, heavy | make_music | played, tuned | key, pedal | -
drum | musical_instrument, percussion_instrument | play_music, keep_rhythm | band, stage, concert | wood, metal | loud | make_noise | played, hit | - | -
money | currency | buy_things, pay | wallet, bank, purse, pocket | paper, metal | valuable | - | spent, saved, earned | - | -
wallet | accessory, container | hold_money, carry_money | pocket, purse | leather | small | - | carried | - | -
key | tool | open_door, lock_door, unlock_door, start_car | pocket, keychain, purse, door | metal, brass | small | - | turned, lost | - | keyboard, piano
bucket | container | carry_water, hold_water | garage, farm, beach, garden | plastic, metal | hollow | hold_water | filled, carried | handle | -
fan | appliance | cool_room, move_air | ceiling, bedroom, office | plastic, metal | electric | spin, blow_air | turned_on | blade, motor | -
light_bulb | light_source | give_light, light_room | lamp, ceiling | glass, metal | bright, hot, fragile | glow | turned_on, screwed_in, changed | filament | lamp
# --- animals
dog | pet, mammal, canine | companionship, guard_house, herd_sheep | house, park, kennel, yard, doghouse | - | loyal, friendly, furry, playful | bark, run, fetch, wag_tail, swim | petted, walked, fed, trained | tail, fur, paw, nose | -
cat | pet, mammal, feline | companionship, catch_mice | house, couch, windowsill, bed | - | furry, soft, independent, curious | meow, purr, climb, jump, hunt_mice | petted, fed | whisker, tail, fur, claw, paw | -
horse | mammal, livestock | ride, pull_cart, race | farm, stable, field, barn, race_track | - | strong, fast, large | run, gallop, pull_cart, jump | ridden, fed, groomed | mane, tail, hoof | -
cow | mammal, livestock | produce_milk, produce_beef | farm, field, barn, pasture | - | large, black, white, spotted | moo, give_milk, eat_grass, chew_cud | milked, fed | udder, horn, tail | -
sheep | mammal, livestock | produce_wool | farm, field, pasture | - | woolly, white, fluffy | graze, bleat | sheared, herded | wool | -
pig | mammal, livestock | produce_meat | farm, pigsty, mud | - | pink, smart | oink, roll_in_mud | fed | snout, tail | -
chicken | bird, poultry | produce_eggs, food | farm, chicken_coop, barn | - | feathered | lay_eggs, cluck | fed, cooked, eaten | feather, beak, wing | -
bird | animal | - | tree, sky, nest, cage | - | small, feathered | fly, sing, build_nest, lay_eggs | fed, watched | wing, feather, beak | -
duck | bird, waterfowl | - | pond, lake, river, farm | - | feathered, waterproof | swim, fly, quack | fed | feather, beak, wing, webbed_feet | -
fish | animal | food | water, ocean, lake, river, aquarium, pond | - | wet, slippery, scaly | swim | caught, eaten, fried | fin, gill, scale, tail | -
elephant | mammal | - | zoo, africa, savanna, circus, jungle | - | large, heavy, gray, big | spray_water, trumpet, carry_heavy_loads | - | trunk, tusk, ear | -
giraffe | mammal | - | zoo, africa, savanna | - | tall, spotted | eat_leaves, run | - | neck, spot | -
zebra | mammal | - | zoo, africa, savanna | - | striped, black, white | run | - | stripe, mane | -
bear | mammal | - | forest, zoo, cave, mountain | - | large, strong, furry, dangerous | hibernate, climb, catch_fish | - | fur, claw | -
mouse | rodent, mammal, input_device, computer_accessory | control_cursor, click | house, field, desk, computer | plastic | small, gray | squeak, run | clicked, caught | tail, button | -
rabbit | mammal, pet | - | garden, field, burrow, farm | - | furry, soft, fast, cute | hop, run, dig | petted, fed | ear, tail, fur | -
squirrel | rodent, mammal | - | tree, park, forest | - | furry, small, fast | climb, climb_tree, gather_nuts, run | fed | tail, fur | -
bee | insect | pollinate_flowers, make_honey | hive, garden, flower, field | - | small, yellow, striped, busy | fly, sting, make_honey, pollinate_flowers | - | wing, stinger | -
butterfly | insect | - | garden, flower, field | - | colorful, beautiful, delicate | fly | - | wing, antenna | -
penguin | bird | - | antarctica, zoo | - | black, white | swim, dive | - | feather, beak, flipper | -
monkey | mammal, primate | - | zoo, jungle, tree | - | playful, smart | climb, climb_tree, swing | - | tail | -
lion | mammal, big_cat | - | zoo, africa, savanna | - | strong, dangerous, large | roar, hunt | - | mane, claw | -
# --- vehicles
car | motor_vehicle, vehicle | transportation, drive, travel, commute | road, street, garage, parking_lot, highway | metal, steel, glass, rubber | fast, heavy | drive, carry_passengers | driven, parked, washed | wheel, engine, door, seat, steering_wheel, tire | -
bus | vehicle, motor_vehicle, public_transportation | transport_people, transportation | street, road, bus_stop, bus_station | metal, steel, glass | large, long | carry_passengers | driven, parked, boarded | wheel, door, seat, window | -
truck | motor_vehicle, vehicle | transport_goods, haul_cargo, move_furniture | road, highway, street | metal, steel | large, heavy | carry_cargo | driven, loaded, parked | wheel, engine | -
bicycle | vehicle | ride, transportation, exercise | street, road, garage, park, bike_rack | metal, aluminum, rubber | quiet | - | ridden, pedaled, parked | wheel, pedal, chain, seat, handlebar | -
motorcycle | motor_vehicle, vehicle | ride, transportation | road, street, garage | metal, rubber | fast, loud | go_fast | ridden, parked | wheel, engine, seat | -
train | vehicle | transport_people, transportation, travel, carry_freight | train_station, railroad | metal, steel | long, fast, heavy | carry_passengers | boarded, ridden | engine, wheel, seat | -
airplane | aircraft, vehicle | fly, travel, transportation | airport, sky, runway | metal, aluminum | fast, large, loud | fly | flown, boarded | wing, engine, cockpit, tail | -
boat | watercraft, vehicle | travel_on_water, fish, sail | water, lake, ocean, river, harbor | wood, metal, fiberglass | buoyant | float, sail | rowed, sailed, docked | sail, hull, anchor | -
ship | watercraft, vehicle | transport_goods, travel_on_water | ocean, sea, harbor, port | metal, steel | large, heavy | float, sail | sailed, docked | hull, anchor, deck | -
helicopter | aircraft | fly, rescue_people | sky, airport, helipad | metal | loud | fly, hover | flown | rotor, engine | -
tractor | vehicle, machine | plow_fields, farm | farm, field | metal | slow, heavy | pull_plow | driven | wheel, engine | -
wheel | simple_machine | roll, move_cars | car, bicycle, bus, truck | rubber, metal | round | roll, spin | turned, rolled | tire, spoke | car, bicycle, bus, truck
# --- clothing and accessories
shirt | clothing, garment | wear, cover_body | closet, drawer, store | cotton, fabric | soft | - | worn, washed, ironed, folded | sleeve, collar, button, pocket | -
t_shirt | shirt, clothing | wear | closet, drawer, store | cotton | casual, comfortable | - | worn, washed | sleeve | -
jacket | clothing, outerwear | keep_warm, wear | closet, coat_rack | leather, cotton, wool, denim | warm | - | worn, zipped | sleeve, pocket, zipper, hood | -
coat | clothing, outerwear | keep_warm, wear | closet, coat_rack | wool, fabric | warm, heavy | - | worn, hung | sleeve, pocket, button | -
pants | clothing | wear, cover_legs | closet, drawer | cotton, denim, fabric | long | - | worn, washed | pocket, zipper | -
jeans | pants, clothing | wear | closet, drawer | denim, cotton | blue, durable | - | worn, washed | pocket, zipper | -
dress | clothing, garment | wear | closet, store, party, wedding | cotton, silk, fabric | pretty | - | worn | - | -
hat | headwear, clothing | cover_head, protect_from_sun, keep_head_warm | head, closet, hat_rack | cotton, wool, straw, felt | fashionable | - | worn | brim | -
shoe | footwear, clothing | walk, protect_feet, wear | foot, closet, store | leather, rubber, fabric | comfortable | - | worn, tied, polished | sole, heel, lace | -
boot | footwear | protect_feet, walk_in_snow, hike | closet, foot | leather, rubber | heavy, warm, waterproof | - | worn | sole, heel | -
sock | clothing | keep_feet_warm, wear | drawer, foot, shoe | cotton, wool | soft, warm | - | worn, washed | - | -
glove | clothing | keep_hands_warm, protect_hands | hand, drawer, pocket | wool, leather, cotton, rubber | warm | - | worn | finger | -
scarf | clothing, accessory | keep_neck_warm, keep_warm | neck, closet | wool, silk, cotton | warm, soft, long | - | worn, knitted, wrapped | - | -
tie | clothing, accessory | dress_up | neck, closet, office | silk, polyester | long, narrow | - | worn, tied | knot | -
sunglasses | eyewear, accessory | protect_eyes, block_sunlight | face, beach, car | plastic, glass, metal | dark | block_sunlight | worn | lens, frame | -
glasses | eyewear | see_better, read, correct_vision | face, desk | glass, plastic, metal | fragile | - | worn, cleaned | lens, frame | -
umbrella | accessory, rain_gear | stay_dry, keep_rain_off, block_sun | closet, umbrella_stand, beach, car | fabric, nylon, metal, plastic | waterproof, foldable | - | opened, closed, carried | handle, canopy | -
backpack | bag | carry_books, carry_things | school, classroom, back | nylon, fabric, canvas | heavy | hold_things | carried, worn, packed | strap, zipper, pocket | -
handbag | bag, accessory | carry_money, carry_things | closet, shoulder, store | leather, fabric | fashionable | - | carried | strap, zipper | -
watch | timepiece, accessory | tell_time | wrist, jewelry_store | metal, plastic, leather, glass | small | tell_time | worn, wound | strap, face, hand | -
belt | accessory, clothing | hold_up_pants | waist, closet | leather | long | - | worn, buckled | buckle | -
helmet | headwear, protective_gear | protect_head | head, construction_site, garage | plastic, metal | hard | protect_head | worn | strap, visor | -
# --- tools and stationery
hammer | tool, hand_tool | pound_nails, hit_nails, build | toolbox, workshop, garage, hardware_store | metal, steel, wood | heavy, hard | - | swung, held | handle, head | -
screwdriver | tool, hand_tool | turn_screws, tighten_screws | toolbox, workshop, garage, drawer | metal, plastic | useful | - | turned | handle, tip | -
saw | tool | cut_wood | toolbox, workshop, garage | steel, metal, wood | sharp | cut_wood | - | blade, handle | -
wrench | tool, hand_tool | tighten_bolts, turn_bolts | toolbox, garage, workshop | steel, metal | heavy | - | held, turned | handle | -
drill | tool, power_tool | drill_holes, make_holes | workshop, toolbox, garage | metal, plastic | loud, electric | - | plugged_in | bit, motor | -
scissors | tool | cut_paper, cut_hair, cut | drawer, desk, office, classroom | metal, steel, plastic | sharp | cut | - | blade, handle | -
shovel | tool, garden_tool | dig, shovel_snow | garage, garden, shed, beach | metal, wood | heavy | dig | - | handle | -
rake | garden_tool | rake_leaves, gather_leaves | garage, garden, shed, yard | metal, wood, plastic | long | - | held | handle, tine | -
ladder | equipment | climb, reach_high_places | garage, shed, construction_site | wood, metal, aluminum | tall | - | climbed | rung | -
broom | cleaning_tool | sweep, sweep_floor, clean_floor | closet, kitchen | wood, plastic, straw | long | - | held, pushed | handle, bristle | -
pen | writing_tool | write, sign_name | desk, office, pocket, school | plastic, metal | small | write | held, clicked | ink, cap | -
pencil | writing_tool | write, draw | desk, school, pencil_case, classroom | wood, graphite | yellow, pointy | write | sharpened | eraser | -
paintbrush | tool | paint | art_studio, workshop | wood, hair | soft | - | dipped, cleaned | bristle, handle | -
# --- sports gear and toys
ball | toy, sports_equipment | play, throw, play_games | park, field, gym, playground | rubber, leather, plastic | round, bouncy | bounce, roll | thrown, kicked, caught, bounced | - | -
soccer_ball | ball | play_soccer, kick | soccer_field, field | leather, rubber | round, black, white | bounce, roll | kicked | - | -
baseball | ball | play_baseball | baseball_field, stadium | leather, cork, yarn | hard, white, round | - | thrown, hit, caught | stitch | -
baseball_bat | sports_equipment | hit_baseball, play_baseball | baseball_field, stadium, dugout | wood, aluminum | long, hard | - | swung, held | handle | -
baseball_glove | sports_equipment | catch_ball, catch_baseball | baseball_field, hand | leather | padded | - | worn | - | -
tennis_racket | racket, sports_equipment | play_tennis, hit_tennis_ball | tennis_court | graphite, aluminum | light | - | swung, held | handle, string | -
frisbee | toy, sports_equipment | play_catch, throw | park, beach | plastic | round, flat, light | fly | thrown, caught | - | -
kite | toy | fly, play | sky, park, beach | paper, plastic, fabric | light, colorful | fly | flown | string, tail | -
surfboard | sports_equipment | surf, ride_waves | beach, ocean | fiberglass, foam, wood | long | float | ridden, waxed | fin | -
skis | sports_equipment | ski | ski_slope, mountain | fiberglass, wood, metal | long, narrow | - | waxed | - | -
snowboard | sports_equipment | ride_down_slopes, slide_on_snow | ski_slope, mountain | wood, fiberglass | flat, long | - | waxed | binding | -
basketball | ball | play_basketball, shoot_hoops | basketball_court, gym | rubber, leather | orange, round, bouncy | bounce | dribbled, thrown, shot | - | -
golf_club | sports_equipment | play_golf, hit_golf_ball | golf_course, golf_bag | metal, graphite | long | - | swung | - | -
skateboard | sports_equipment, toy | skate, ride, do_tricks | skate_park, street, sidewalk | wood | flat | roll | ridden | wheel, deck | -
# --- electronics
laptop | computer, electronic_device | work, browse_internet, write_email, play_games | office, desk, cafe, bag | plastic, metal, aluminum | portable, light, electronic | run_programs | opened, closed, charged | keyboard, screen, battery, touchpad | -
computer | machine, electronic_device | work, compute, browse_internet, send_email | office, desk, school, library | plastic, metal | electronic, useful | compute, store_data | turned_on, programmed | keyboard, monitor, mouse, memory | -
keyboard | input_device, computer_accessory | type | desk, office, computer | plastic | rectangular | - | typed_on | key | computer, laptop
monitor | display, electronic_device | display_images, display_information | desk, office | plastic, glass | flat, bright | display_images | turned_on | screen | computer
television | electronic_device, appliance | watch_shows, watch_movies, watch_news, entertainment | living_room, bedroom, house, hotel | plastic, glass, metal | electronic, bright | display_images | watched, turned_on | screen | -
remote_control | device | change_channels, control_television | living_room, couch, table | plastic | small | - | pressed, lost | button, battery | -
phone | electronic_device, device | call_people, make_calls, send_text_messages, take_pictures | pocket, purse, desk, hand | plastic, glass, metal | small, portable | ring, take_pictures | charged, answered | screen, battery, button, camera | -
camera | device, electronic_device | take_pictures, record_video | bag, tripod, photo_studio | plastic, metal, glass | expensive | take_pictures | focused, held | lens, flash, battery | -
headphones | audio_device, device | listen_to_music | head, desk, bag | plastic, metal | portable | - | worn, plugged_in | cord | -
radio | electronic_device | listen_to_music, listen_to_news | car, kitchen | plastic, metal | electronic | play_music | turned_on, tuned | antenna, speaker, knob | -
printer | machine, computer_accessory | print, print_documents | office, desk, library | plastic, metal | electronic | print | turned_on | paper_tray | -
# --- plants
tree | plant | give_shade, make_paper, climb, produce_oxygen | forest, park, yard, garden, field | wood | tall, green, large | grow, produce_oxygen, provide_shade | climbed, cut_down, planted | branch, leaf, trunk, root, bark | forest
flower | plant | decorate, smell, give_as_gift | garden, vase, field, park, flower_shop | - | beautiful, colorful, fragrant | grow, bloom | picked, smelled, watered, planted | petal, stem, leaf | -
rose | flower | give_as_gift, express_love, decorate | garden, vase, flower_shop | - | red, beautiful, fragrant | bloom | picked | thorn, petal, stem | -
grass | plant | feed_animals | lawn, yard, park, field | - | green, soft | grow | cut, mowed, walked_on | - | lawn
bush | plant, shrub | decorate_yard | garden, yard, park | - | green, leafy | grow | trimmed | leaf, branch | -
leaf | plant_part | make_food_for_plant | tree, plant, ground | - | green, thin, flat | fall, change_color | raked | - | tree, plant
cactus | plant | decorate | desert, pot | - | spiky, green, prickly | store_water | watered | spine | -
palm_tree | tree | give_shade | beach, island, tropics | wood | tall | grow | - | leaf, trunk | -
plant | living_thing | decorate, produce_oxygen | garden, pot, window, house | - | green, alive | grow | watered, planted | leaf, root, stem | -
sunflower | flower | make_oil, produce_seeds | field, garden | - | yellow, tall | grow | - | seed, petal | -
# --- buildings, street furniture
house | building | live_in, shelter | neighborhood, street, suburb | wood, brick, stone | cozy | - | built, painted, cleaned | door, window, roof, room, wall, kitchen | -
building | structure | shelter, work_in, live_in | city, street, town | brick, concrete, steel, glass | tall, large | - | built | floor, wall, door, window, roof | city
bridge | structure | cross_river, cross_water | river, road, city | steel, concrete, stone | long, strong | - | crossed, built | - | road
tower | structure, building | see_far | city | stone, steel | tall | - | climbed | - | -
fence | barrier, structure | keep_animals_in, mark_property | yard, farm, garden | wood, metal | long | - | painted, climbed | post | -
door | entrance, barrier | enter_room, enter_house | house, building, room, car | wood, metal, glass | rectangular | - | opened, closed, locked, knocked_on | handle, hinge, knob, lock | house, building, room, car
window | opening | let_light_in, see_outside, let_air_in | wall, house, building, car | glass | transparent, clear | - | opened, closed, cleaned | frame, pane | house, building, car
wall | structure | support_roof, hang_pictures, divide_rooms | house, building, room | brick, stone, concrete, wood | hard, flat | - | painted, built | - | house, building, room
roof | structure | cover_house, keep_rain_out | house, building | tile, wood, metal, shingle | sloped, high | - | repaired | - | house, building
stairs | structure | climb, go_upstairs | house, building | wood, concrete, stone | steep | - | climbed | step | building
traffic_light | signal | control_traffic | street, intersection, road | metal, glass | red, green, yellow, bright | change_color | - | light | -
stop_sign | traffic_sign, sign | tell_drivers_to_stop | street, intersection, corner | metal | red, octagonal | - | obeyed | - | -
street_sign | sign | give_directions, show_street_name | street, corner, intersection | metal | green | - | read | - | -
sign | object | give_information, give_directions | street, store, road, wall | metal, wood, plastic | informative | - | read, posted | - | -
fire_hydrant | device | put_out_fire, supply_water | street, sidewalk | metal, iron | red, yellow | - | opened | valve | -
parking_meter | device, machine | pay_for_parking | street, sidewalk | metal | gray | - | paid | coin_slot | -
pole | post | hold_signs, support_wires | street, sidewalk | metal, wood | tall, long | - | painted | - | -
road | path | drive, travel | city, country, town | asphalt, concrete | long, hard, paved | - | paved, driven_on | lane | -
street | road | drive, walk | city, town, neighborhood | asphalt, concrete | busy, long | - | crossed, paved | lane | city
sidewalk | path, walkway | walk | street, city, town | concrete | hard, flat | - | walked_on, shoveled | curb | street
tent | shelter | camp, sleep_outdoors | campsite, forest | nylon, canvas, fabric | portable | - | pitched | pole | -
barn | building | store_hay, keep_animals | farm | wood | red, large | - | painted | door, roof | -
# --- scenery
sky | atmosphere | - | outside | - | blue, high, cloudy | - | - | cloud | -
cloud | weather | - | sky | water, water_vapor | white, gray, fluffy | rain, float, move | - | - | -
sun | star | give_light | sky | gas | hot, bright, yellow | shine | - | - | -
snow | precipitation, weather | ski, build_snowman, make_snowball | mountain, ground | water, ice | cold, white, wet, soft | melt, fall | shoveled, melted | - | -
sand | material | build_sandcastle, make_glass | beach, desert | rock | grainy, soft, warm | - | walked_on | - | beach
ocean | body_of_water | swim, surf, sail | earth | water, salt_water | deep, salty, blue, large | make_waves | crossed | wave | -
mountain | landform | climb, ski, hike | - | rock, stone | tall, high, large | - | climbed | peak | -
# --- people
person | human | - | house, office, street, city | - | alive | walk, talk, read, think, drive_car, cook | - | head, hand, arm, leg, eye | -
man | person, adult | - | - | - | - | grow_beard | - | - | -
woman | person, adult | - | - | - | - | give_birth | - | - | -
child | person | - | school, playground, park | - | young, small, playful | play, learn, laugh | - | - | -
boy | child, male | - | school, playground | - | young | play | - | - | -
girl | child, female | - | school, playground | - | young | play | - | - | -
"""

OBJECT_COLUMNS = ("IsA", "UsedFor", "AtLocation", "MadeOf", "HasProperty", "CapableOf",
                  "ReceivesAction", "HasA", "PartOf")

# ---------------------------------------------------------------------------------------------
# 2. Everything else: "Relation start: end, end, ..."
# ---------------------------------------------------------------------------------------------
FACTS = """
# --- second-level categories
IsA fruit: food
IsA citrus_fruit: fruit
IsA berry: fruit
IsA vegetable: food
IsA root_vegetable: vegetable
IsA leafy_vegetable: vegetable
IsA grain: food
IsA baked_good: food
IsA dessert: food
IsA snack: food
IsA fast_food: food
IsA dairy_product: food
IsA candy: food, dessert
IsA meal: food
IsA sweetener: food
IsA ingredient: food
IsA sauce: food
IsA tomato_sauce: sauce
IsA dough: food
IsA flour: ingredient
IsA sugar: ingredient, sweetener
IsA yeast: ingredient
IsA cocoa: ingredient
IsA cream: dairy_product
IsA sausage: meat
IsA bun: bread
IsA coffee_bean: seed
IsA drink: liquid
IsA alcohol: drink
IsA liquid: substance
IsA food: substance
IsA furniture: object
IsA seat: furniture
IsA household_item: object
IsA bedding: household_item
IsA floor_covering: household_item
IsA decoration: object
IsA timepiece: device
IsA device: object
IsA tool: object
IsA hand_tool: tool
IsA power_tool: tool
IsA garden_tool: tool
IsA cleaning_tool: tool
IsA writing_tool: tool
IsA utensil: tool
IsA cutlery: utensil
IsA tableware: household_item
IsA dish: tableware
IsA kitchenware: household_item
IsA cookware: kitchenware
IsA container: object
IsA appliance: machine
IsA kitchen_appliance: appliance
IsA machine: device
IsA simple_machine: machine
IsA fixture: object
IsA toiletry: household_item
IsA publication: object
IsA currency: object
IsA animal: living_thing
IsA mammal: animal
IsA insect: animal
IsA rodent: mammal
IsA primate: mammal
IsA feline: mammal
IsA canine: mammal
IsA big_cat: feline
IsA livestock: animal
IsA poultry: bird, livestock
IsA waterfowl: bird
IsA pet: animal
IsA vehicle: machine
IsA motor_vehicle: vehicle
IsA aircraft: vehicle
IsA watercraft: vehicle
IsA public_transportation: transportation
IsA clothing: covering
IsA garment: clothing
IsA headwear: clothing
IsA footwear: clothing
IsA outerwear: clothing
IsA eyewear: accessory
IsA rain_gear: clothing
IsA accessory: object
IsA protective_gear: equipment
IsA equipment: object
IsA sports_equipment: equipment
IsA racket: sports_equipment
IsA toy: object
IsA stuffed_animal: toy
IsA electronic_device: device
IsA computer_accessory: device
IsA input_device: computer_accessory
IsA display: electronic_device
IsA audio_device: electronic_device
IsA light_source: object
IsA musical_instrument: device
IsA string_instrument: musical_instrument
IsA percussion_instrument: musical_instrument
IsA keyboard_instrument: musical_instrument
IsA shrub: plant
IsA plant_part: object
IsA structure: object
IsA barrier: structure
IsA traffic_sign: sign
IsA signal: device
IsA post: structure
IsA path: way
IsA walkway: path
IsA shelter: structure
IsA opening: object
IsA entrance: opening
IsA human: mammal
IsA adult: person
IsA star: celestial_body
IsA precipitation: weather
IsA body_of_water: natural_feature
IsA landform: natural_feature
# --- materials
IsA material: substance
IsA metal: material
IsA wood: material
IsA plastic: material
IsA fabric: material
IsA cloth: fabric
IsA cotton: fabric
IsA wool: fabric
IsA silk: fabric
IsA denim: fabric
IsA nylon: fabric
IsA polyester: fabric
IsA canvas: fabric
IsA felt: fabric
IsA leather: material
IsA ceramic: material
IsA porcelain: ceramic
IsA steel: metal
IsA iron: metal
IsA aluminum: metal
IsA brass: metal
IsA silver: metal
IsA rubber: material
IsA latex: rubber
IsA stone: material
IsA rock: material
IsA brick: building_material
IsA concrete: building_material
IsA tile: building_material
IsA shingle: building_material
IsA building_material: material
IsA cardboard: material
IsA fiberglass: material
IsA foam: material
IsA graphite: mineral
IsA mineral: substance
IsA bamboo: plant, material
IsA straw: material
IsA wicker: material
IsA asphalt: material
IsA acrylic: plastic
IsA wax: substance
IsA gas: substance
IsA ice: water
MadeOf steel: iron
MadeOf plastic: oil
MadeOf leather: animal_skin
MadeOf wool: sheep_hair
MadeOf cotton: cotton_plant
MadeOf cardboard: paper
MadeOf brick: clay
MadeOf concrete: cement, sand, water
MadeOf ice: water
MadeOf bread: dough
MadeOf wax: beeswax
HasProperty wood: hard, brown, flammable
HasProperty metal: hard, shiny, strong, cold
HasProperty plastic: light, cheap, waterproof
HasProperty stone: hard, heavy
HasProperty rock: hard, heavy
HasProperty rubber: stretchy, bouncy, waterproof
HasProperty leather: durable, tough
HasProperty cotton: soft
HasProperty wool: warm, soft
HasProperty silk: smooth, soft
HasProperty steel: strong, hard
HasProperty iron: heavy, strong
HasProperty aluminum: light
HasProperty porcelain: fragile, white
HasProperty ceramic: fragile, hard
HasProperty paper: flammable
HasProperty ice: cold, slippery, hard
HasProperty fire: hot, bright, dangerous
HasProperty feather: light, soft
UsedFor wood: build_houses, make_furniture, burn
UsedFor metal: build, make_tools
UsedFor plastic: make_bottles, make_toys
UsedFor leather: make_shoes, make_belts
UsedFor cotton: make_clothes
UsedFor wool: make_sweaters, make_clothes
UsedFor brick: build_houses
UsedFor ice: keep_food_cold, cool_drinks
CreatedBy glass: glassblower
# --- colours and other properties
IsA red: color
IsA green: color
IsA blue: color
IsA yellow: color
IsA orange: color
IsA purple: color
IsA pink: color
IsA white: color
IsA black: color
IsA brown: color
IsA gray: color
IsA color: property
RelatedTo wooden: wood
RelatedTo metallic: metal
RelatedTo ripe: fruit
RelatedTo striped: stripe
RelatedTo spotted: spot
RelatedTo furry: fur
RelatedTo feathered: feather
RelatedTo leafy: leaf
RelatedTo cloudy: cloud
RelatedTo sunny: sun
RelatedTo sandy: sand
RelatedTo snowy: snow
RelatedTo electric: electricity
RelatedTo colorful: color
RelatedTo shiny: light
HasProperty sky: sunny
HasProperty beach: sandy, sunny
HasProperty wooden: hard
# --- places
IsA room: place
IsA kitchen: room
IsA bedroom: room
IsA bathroom: room
IsA living_room: room
IsA dining_room: room
IsA office: room, workplace
IsA classroom: room
IsA closet: room
IsA garage: building
IsA attic: room
IsA workplace: place
IsA library: building
IsA school: building
IsA hospital: building
IsA hotel: building
IsA church: building
IsA stadium: building
IsA gym: building
IsA store: building
IsA grocery_store: store
IsA supermarket: grocery_store
IsA bakery: store
IsA bookstore: store
IsA restaurant: place
IsA cafe: restaurant
IsA coffee_shop: cafe
IsA pizzeria: restaurant
IsA bar: place
IsA park: place
IsA playground: place
IsA beach: place
IsA ocean: place
IsA sea: body_of_water
IsA lake: body_of_water
IsA river: body_of_water
IsA pond: body_of_water
IsA farm: place
IsA zoo: place
IsA forest: place
IsA jungle: forest
IsA field: place
IsA pasture: field
IsA garden: place
IsA yard: place
IsA lawn: yard
IsA highway: road
IsA city: place
IsA town: place
IsA neighborhood: place
IsA desert: place
IsA savanna: grassland
IsA grassland: place
IsA airport: place
IsA harbor: place
IsA train_station: building
IsA bus_stop: place
IsA parking_lot: place
IsA intersection: place
IsA tennis_court: place
IsA baseball_field: field
IsA soccer_field: field
IsA ski_slope: place
IsA campsite: place
IsA workshop: room
IsA shed: building
IsA africa: continent
IsA asia: continent
IsA antarctica: continent
IsA continent: place
IsA italy: country
IsA country: place
IsA island: place
UsedFor kitchen: cook, prepare_food, eat
UsedFor bedroom: sleep, get_dressed
UsedFor bathroom: wash, take_shower, brush_teeth
UsedFor living_room: relax, watch_television, entertain_guests
UsedFor dining_room: eat, eat_dinner
UsedFor office: work
UsedFor classroom: learn, teach
UsedFor library: read, borrow_books, study
UsedFor school: learn, study
UsedFor park: play, walk, relax, have_picnic
UsedFor playground: play
UsedFor beach: swim, sunbathe, surf, relax
UsedFor farm: grow_food, raise_animals
UsedFor zoo: see_animals
UsedFor restaurant: eat, eat_dinner
UsedFor cafe: drink_coffee, meet_friends
UsedFor store: buy_things, shop
UsedFor grocery_store: buy_food
UsedFor bakery: buy_bread
UsedFor garage: park_car, store_tools
UsedFor gym: exercise
UsedFor stadium: watch_sports, play_sports
UsedFor airport: fly, travel
UsedFor train_station: board_train
UsedFor bus_stop: wait_for_bus
UsedFor hospital: treat_patients
UsedFor garden: grow_flowers, grow_vegetables
UsedFor closet: store_clothes
UsedFor church: pray
UsedFor hotel: sleep, stay_overnight
UsedFor tennis_court: play_tennis
UsedFor ski_slope: ski
UsedFor parking_lot: park_car
UsedFor lake: swim, fish
UsedFor river: fish
HasA kitchen: stove, sink, refrigerator, oven, table
HasA bedroom: bed, closet
HasA bathroom: toilet, sink, mirror, bathtub
HasA living_room: couch, television
HasA office: desk, computer, chair
HasA classroom: desk, chalkboard
HasA library: book, bookcase
HasA park: tree, bench, grass
HasA beach: sand, water
HasA farm: barn, tractor, animal
HasA zoo: animal
HasA city: building, street
HasA garage: car
HasA restaurant: table, chair, kitchen
HasA airport: runway, airplane
PartOf kitchen: house
PartOf bedroom: house
PartOf bathroom: house
PartOf living_room: house
PartOf room: building
AtLocation kitchen: house, restaurant
AtLocation bedroom: house, hotel
AtLocation bathroom: house
AtLocation office: building
AtLocation classroom: school
AtLocation park: city
AtLocation zoo: city
AtLocation farm: countryside
AtLocation forest: mountain
AtLocation store: city, mall
AtLocation airport: city
HasProperty ocean: wet
HasProperty desert: hot, dry, sandy
HasProperty forest: green, quiet
HasProperty city: busy, crowded, noisy
HasProperty park: green, quiet
HasProperty library: quiet
LocatedNear beach: ocean
LocatedNear harbor: ocean
LocatedNear fork: knife, plate
LocatedNear chair: table, desk
LocatedNear lamp: bed
LocatedNear sink: faucet
LocatedNear keyboard: mouse, monitor
LocatedNear pillow: blanket
LocatedNear bus_stop: street
LocatedNear fire_hydrant: curb
LocatedNear traffic_light: intersection
LocatedNear toilet: sink
LocatedNear car: road
# --- food and people extras
AtLocation food: kitchen, refrigerator, restaurant, grocery_store, table
AtLocation fruit: fruit_bowl, tree, grocery_store
AtLocation vegetable: garden, refrigerator
AtLocation flour: bakery, pantry
AtLocation animal: zoo, farm, forest
HasProperty fruit: healthy, sweet
HasProperty vegetable: healthy
HasProperty dessert: sweet
HasProperty candy: sweet
HasProperty fast_food: unhealthy
HasProperty food: edible
CapableOf animal: move, eat, breathe
CapableOf vehicle: carry_people
CapableOf human: think, speak
HasA bird: nest
HasA person: brain, heart
HasA animal: body
Desires dog: play, go_for_walk, bone, attention
Desires cat: sleep, eat_fish, warm_place
Desires bird: fly
Desires cow: eat_grass
Desires child: play, candy
Desires person: be_happy, eat, sleep
Desires bee: nectar
Desires horse: eat_hay
NotDesires cat: take_bath
NotDesires person: be_sick
CreatedBy cake: baker
CreatedBy bread: baker
CreatedBy honey: bee
CreatedBy milk: cow
CreatedBy egg: chicken
CreatedBy house: builder
CreatedBy book: author
CreatedBy music: musician
CreatedBy nest: bird
CreatedBy wine: winemaker
CreatedBy pizza: cook
CreatedBy wool: sheep
Causes fire: heat, smoke
Causes rain: wet_ground
Causes exercise: sweat, fatigue
Causes drink_coffee: alertness
Causes eat_too_much: stomachache
Causes chop_onions: tears
Causes sun: sunburn
Causes snow: cold_weather
Causes cut: bleeding
Causes play_sports: fatigue
Causes sleep: rest
HasPrerequisite bake_bread: preheat_oven
HasPrerequisite make_coffee: boil_water
HasPrerequisite ride_bicycle: balance
HasPrerequisite play_tennis: tennis_racket
HasPrerequisite take_pictures: camera
HasPrerequisite surf: surfboard
HasPrerequisite ski: snow
HasPrerequisite fly_kite: wind
HasPrerequisite drive_car: license
HasPrerequisite cook: food
HasPrerequisite eat: food
HasPrerequisite read: book
HasPrerequisite sleep: bed
HasPrerequisite play_baseball: baseball_bat
HasSubevent eat: chew, swallow
HasSubevent cook: heat_food
HasSubevent take_shower: use_soap
HasSubevent play_tennis: hit_ball
HasSubevent drive_car: steer
MotivatedByGoal cook: eat
MotivatedByGoal exercise: stay_healthy
MotivatedByGoal work: earn_money
MotivatedByGoal go_to_store: buy_food
UsedFor rain: grow_plants
HasProperty rain: wet
IsA rain: weather
IsA fire: chemical_reaction
IsA feather: animal_part
IsA nest: home
IsA home: place
IsA chalkboard: board
PartOf runway: airport
# --- negatives
NotCapableOf penguin: fly
NotCapableOf fish: walk
NotCapableOf pig: fly
NotCapableOf car: fly
NotCapableOf elephant: jump
NotCapableOf chair: walk
NotUsedFor knife: eat_soup
NotUsedFor fork: eat_soup
NotUsedFor plate: drink
NotUsedFor umbrella: eat
NotHasProperty ice: hot
NotHasProperty fire: cold
NotHasProperty snow: warm
NotHasProperty feather: heavy
NotHasProperty rock: soft
NotHasProperty desert: wet
# --- lexical relations (Wiktionary-style)
Synonym couch: sofa
Synonym refrigerator: fridge
Synonym television: tv
Synonym car: automobile
Synonym bicycle: bike
Synonym airplane: plane
Synonym motorcycle: motorbike
Synonym donut: doughnut
Synonym pants: trousers
Synonym rug: carpet
Synonym large: big
Synonym phone: telephone
Synonym cap: lid
Antonym hot: cold
Antonym hard: soft
Antonym large: small
Antonym wet: dry
Antonym light: heavy
Antonym full: empty
Antonym open: closed
Antonym clean: dirty
Antonym sweet: sour
Antonym fast: slow
Antonym tall: short
Antonym black: white
Antonym day: night
SimilarTo mug: cup
SimilarTo big: large
SimilarTo small: little
SimilarTo pretty: beautiful
SimilarTo quick: fast
DistinctFrom cat: dog
DistinctFrom fork: spoon
DistinctFrom red: blue
DistinctFrom apple: orange
DistinctFrom coffee: tea
DistinctFrom bus: truck
RelatedTo kitchen: cook, food
RelatedTo beach: sand, summer
RelatedTo pizza: italy
RelatedTo tennis: tennis_racket, tennis_ball
RelatedTo coffee: morning, caffeine
RelatedTo snow: winter
RelatedTo umbrella: rain
RelatedTo baseball_bat: baseball
RelatedTo surfboard: wave
RelatedTo kite: wind
RelatedTo ice_cream: summer
RelatedTo cake: birthday
RelatedTo candle: birthday, light
RelatedTo bicycle: pedal
RelatedTo laptop: computer
RelatedTo dog: puppy
RelatedTo cat: kitten
RelatedTo horse: saddle
RelatedTo helmet: safety
RelatedTo fire_hydrant: firefighter
RelatedTo stop_sign: traffic
RelatedTo clock: time
RelatedTo book: reading
"""

NOUN_USES = frozenset({"transportation", "entertainment", "companionship", "shelter", "food"})
VERB_PREREQUISITES = frozenset({"preheat_oven", "boil_water", "balance"})
DESIRE_NOUNS = frozenset({"bone", "attention", "warm_place", "candy", "nectar"})
# Mass nouns, plurals and proper names get no article in surface text.
NO_ARTICLE = frozenset("""
water milk coffee tea juice wine bread cheese butter rice pasta soup salad ice_cream chocolate
honey meat food fruit sand snow grass money paper wood metal glass plastic steel iron aluminum
rubber cotton wool leather fabric cloth silk denim nylon ceramic porcelain stone brick concrete
flour sugar dough broccoli lettuce corn jeans pants scissors skis sunglasses glasses headphones
stairs furniture clothing equipment transportation entertainment companionship shelter cardboard
fiberglass foam graphite bamboo straw wicker asphalt tile wax gas ice fire rain sky air
africa asia antarctica italy tropics savanna electricity caffeine cream yeast cocoa
red green blue yellow purple pink white black brown gray silver brass felt polyester acrylic
alcohol fast_food public_transportation protein weather precipitation mud wind fur wooden metallic
tableware cutlery kitchenware cookware bedding footwear headwear outerwear eyewear rain_gear
protective_gear sports_equipment livestock poultry nectar attention candy music atmosphere earth
""".split())

# ---------------------------------------------------------------------------------------------
# 3. Quirk rows: (rel, start, end, dataset)
# ---------------------------------------------------------------------------------------------
QUIRK_ROWS = [
    # sense-tagged WordNet rows (the first group collapses onto existing term-level triples)
    ("/r/IsA", "/c/en/chair/n/wn/artifact", "/c/en/seat/n/wn/artifact", "/d/wordnet/3.1"),
    ("/r/IsA", "/c/en/car/n/wn/artifact", "/c/en/motor_vehicle/n/wn/artifact", "/d/wordnet/3.1"),
    ("/r/IsA", "/c/en/dog/n/wn/animal", "/c/en/canine/n/wn/animal", "/d/wordnet/3.1"),
    ("/r/IsA", "/c/en/cat/n/wn/animal", "/c/en/feline/n/wn/animal", "/d/wordnet/3.1"),
    ("/r/IsA", "/c/en/dog/n/wn/animal", "/c/en/domestic_animal/n/wn/animal", "/d/wordnet/3.1"),
    ("/r/IsA", "/c/en/apple/n/wn/food", "/c/en/edible_fruit/n/wn/food", "/d/wordnet/3.1"),
    ("/r/IsA", "/c/en/knife/n/wn/artifact", "/c/en/edge_tool/n/wn/artifact", "/d/wordnet/3.1"),
    ("/r/IsA", "/c/en/tree/n/wn/plant", "/c/en/woody_plant/n/wn/plant", "/d/wordnet/3.1"),
    ("/r/IsA", "/c/en/bank/n/wn/group", "/c/en/financial_institution/n/wn/group", "/d/wordnet/3.1"),
    ("/r/IsA", "/c/en/bank/n/wn/object", "/c/en/slope/n/wn/object", "/d/wordnet/3.1"),
    ("/r/PartOf", "/c/en/key/n/wn/artifact", "/c/en/keyboard/n/wn/artifact", "/d/wordnet/3.1"),
    ("/r/PartOf", "/c/en/wheel/n/wn/artifact", "/c/en/bicycle/n/wn/artifact", "/d/wordnet/3.1"),
    ("/r/MannerOf", "/c/en/sprint/v/wn/motion", "/c/en/run/v/wn/motion", "/d/wordnet/3.1"),
    # part-of-speech-tagged Wiktionary rows, duplicates of term-level rows from other datasets
    ("/r/IsA", "/c/en/apple/n", "/c/en/fruit", "/d/wiktionary/en"),
    ("/r/Antonym", "/c/en/hot/a", "/c/en/cold/a", "/d/wiktionary/en"),
    ("/r/Synonym", "/c/en/couch/n", "/c/en/sofa/n", "/d/wiktionary/en"),
    ("/r/Synonym", "/c/en/refrigerator/n", "/c/en/fridge/n", "/d/wiktionary/en"),
    ("/r/Synonym", "/c/en/jog/v", "/c/en/run/v", "/d/wiktionary/en"),
    ("/r/Antonym", "/c/en/open/a", "/c/en/closed/a", "/d/wiktionary/en"),
    # DBpedia relations
    ("/r/dbpedia/genus", "/c/en/apple/n", "/c/en/malus", "/d/dbpedia/en"),
    ("/r/dbpedia/genus", "/c/en/banana/n", "/c/en/musa", "/d/dbpedia/en"),
    ("/r/dbpedia/genus", "/c/en/tomato/n", "/c/en/solanum", "/d/dbpedia/en"),
    ("/r/dbpedia/genus", "/c/en/cat/n/wp/cat", "/c/en/felis", "/d/dbpedia/en"),
    ("/r/dbpedia/genus", "/c/en/horse/n", "/c/en/equus", "/d/dbpedia/en"),
    # external links (end is a bare URL, not a concept)
    ("/r/ExternalURL", "/c/en/apple/n", "http://dbpedia.org/resource/Apple", "/d/dbpedia/en"),
    ("/r/ExternalURL", "/c/en/dog", "http://dbpedia.org/resource/Dog", "/d/dbpedia/en"),
    ("/r/ExternalURL", "/c/en/umbrella", "http://dbpedia.org/resource/Umbrella", "/d/dbpedia/en"),
    ("/r/ExternalURL", "/c/en/bicycle/n", "http://dbpedia.org/resource/Bicycle", "/d/dbpedia/en"),
    ("/r/ExternalURL", "/c/en/giraffe", "http://dbpedia.org/resource/Giraffe", "/d/dbpedia/en"),
    ("/r/ExternalURL", "/c/en/bank/n/wp/bank", "http://dbpedia.org/resource/Bank", "/d/dbpedia/en"),
]

# (rel, start, end, wiktionary edition) -- translations are cross-language Synonym edges
FOREIGN_ROWS = [
    ("/r/Synonym", "/c/de/hund/n", "/c/en/dog/n", "en"),
    ("/r/Synonym", "/c/de/katze/n", "/c/en/cat/n", "en"),
    ("/r/Synonym", "/c/de/käse", "/c/en/cheese", "de"),
    ("/r/Synonym", "/c/de/apfel", "/c/en/apple", "de"),
    ("/r/Synonym", "/c/de/brot", "/c/en/bread", "de"),
    ("/r/Synonym", "/c/de/tisch", "/c/en/table", "de"),
    ("/r/Synonym", "/c/de/stuhl/n", "/c/en/chair", "en"),
    ("/r/Synonym", "/c/de/fahrrad", "/c/en/bicycle", "de"),
    ("/r/Synonym", "/c/de/löffel", "/c/en/spoon", "de"),
    ("/r/Synonym", "/c/de/messer", "/c/en/knife", "de"),
    ("/r/Synonym", "/c/de/baum", "/c/en/tree", "en"),
    ("/r/Synonym", "/c/de/regenschirm/n", "/c/en/umbrella/n", "en"),
    ("/r/Synonym", "/c/fr/chien", "/c/en/dog", "fr"),
    ("/r/Synonym", "/c/fr/chat/n", "/c/en/cat/n", "en"),
    ("/r/Synonym", "/c/fr/pâtes", "/c/en/pasta", "fr"),
    ("/r/Synonym", "/c/fr/pomme", "/c/en/apple", "fr"),
    ("/r/Synonym", "/c/fr/fromage", "/c/en/cheese", "fr"),
    ("/r/Synonym", "/c/fr/gâteau", "/c/en/cake", "fr"),
    ("/r/Synonym", "/c/fr/fourchette/n", "/c/en/fork/n", "en"),
    ("/r/Synonym", "/c/fr/chaise", "/c/en/chair", "fr"),
    ("/r/Synonym", "/c/fr/voiture", "/c/en/car", "en"),
    ("/r/Synonym", "/c/es/perro", "/c/en/dog", "es"),
    ("/r/Synonym", "/c/es/gato", "/c/en/cat", "es"),
    ("/r/Synonym", "/c/es/manzana/n", "/c/en/apple/n", "en"),
    ("/r/Synonym", "/c/es/queso", "/c/en/cheese", "es"),
    ("/r/Synonym", "/c/es/árbol", "/c/en/tree", "es"),
    ("/r/Synonym", "/c/es/cuchillo", "/c/en/knife", "en"),
    ("/r/Synonym", "/c/es/niño/n", "/c/en/child/n", "en"),
    ("/r/IsA", "/c/de/hund", "/c/de/tier", "de"),
    ("/r/IsA", "/c/de/apfel", "/c/de/obst", "de"),
    ("/r/MadeOf", "/c/de/käse", "/c/de/milch", "de"),
    ("/r/UsedFor", "/c/de/messer", "/c/de/schneiden", "de"),
    ("/r/IsA", "/c/fr/chat", "/c/fr/animal", "fr"),
    ("/r/IsA", "/c/fr/pomme", "/c/fr/fruit", "fr"),
    ("/r/MadeOf", "/c/fr/fromage", "/c/fr/lait", "fr"),
    ("/r/RelatedTo", "/c/fr/pâtes", "/c/fr/italie", "fr"),
    ("/r/IsA", "/c/es/perro", "/c/es/animal", "es"),
    ("/r/IsA", "/c/es/manzana", "/c/es/fruta", "es"),
    ("/r/HasProperty", "/c/es/café", "/c/es/caliente", "es"),
]

# ---------------------------------------------------------------------------------------------
# 4. Provenance helpers
# ---------------------------------------------------------------------------------------------
CONTRIBUTORS = """
amelia_r bgarrett carlos_m dpatel eve_lin fhoward gwen_t hkimura ivan_s jmorales kate_b
lnguyen mark_o nadia_k oscar_w pri_shah quinn_d rosa_v sam_h tova_j ulrich_m vera_p
will_c xia_l yusuf_a zoe_f abby_n ben_k cora_e drew_y ella_g finn_o gina_r hugo_b iris_m
""".split()
ACTIVITIES = ["/s/activity/omcs/omcs1_possibly_free_text"] * 5 + [
    "/s/activity/omcs/commons2_template", "/s/activity/omcs/vote"]
CN4 = "/d/conceptnet/4/en"
VERBOSITY = "/d/verbosity"
WIKT_EN = "/d/wiktionary/en"
LEXICAL = frozenset({"Synonym", "Antonym", "SimilarTo", "DistinctFrom"})
NEGATIVE = frozenset({"NotCapableOf", "NotUsedFor", "NotHasProperty", "NotDesires"})


def stable(*parts: str) -> int:
    return int(hashlib.md5("|".join(parts).encode("utf-8")).hexdigest()[:12], 16)


def join_uri(*pieces: str) -> str:
    """conceptnet5.uri.join_uri: strip slashes from each piece, join with '/', lead with '/'."""
    return "/" + "/".join(p.strip("/") for p in pieces)


def assertion_uri(rel: str, start: str, end: str) -> str:
    return join_uri("/a", "[", rel, ",", start, ",", end, "]")


def merged_weight(n: int) -> float:
    """n unit-weight sources: linear up to 2, then square-root growth (3 -> 2.449, 6 -> 3.464)."""
    return round(float(n) if n <= 2 else 2.0 * math.sqrt(n / 2.0), 3)


def words(term: str) -> str:
    return term.replace("_", " ")


def noun_phrase(term: str, key: str, place: bool = False) -> str:
    text = words(term)
    if term in NO_ARTICLE:
        return text
    roll = stable("np", key, term) % 10
    if place and roll < 6:
        return "the " + text
    if roll < 2:
        return text
    return ("an " if text[0] in "aeiou" else "a ") + text


def surface(rel: str, s: str, e: str, key: str) -> str | None:
    """Surface text with [[...]] markup; None when this relation gets no crowd-sourced sentence."""
    v = stable("tpl", key) % 3
    S = noun_phrase(s, key + "s")
    if rel == "IsA":
        E = noun_phrase(e, key + "e")
        return (f"[[{S}]] is [[{E}]]", f"[[{S}]] is a type of [[{words(e)}]]",
                f"[[{S}]] is a kind of [[{words(e)}]]")[v]
    if rel == "UsedFor":
        if e in ("eat", "drink"):
            return f"*You can [[{e}]] [[{S}]]"
        if e in NOUN_USES:
            return f"[[{S}]] is used for [[{words(e)}]]"
        return (f"You can use [[{S}]] to [[{words(e)}]]",
                f"[[{S}]] is used to [[{words(e)}]]",
                f"You can use [[{S}]] to [[{words(e)}]]")[v]
    if rel == "AtLocation":
        E = noun_phrase(e, key + "e", place=True)
        return (f"*Something you find at [[{E}]] is [[{S}]]",
                f"You are likely to find [[{S}]] in [[{E}]]",
                f"*Something you find in [[{E}]] is [[{S}]]")[v]
    if rel == "MadeOf":
        return (f"[[{S}]] is made of [[{words(e)}]]", f"[[{S}]] can be made of [[{words(e)}]]",
                f"[[{S}]] is made of [[{words(e)}]]")[v]
    if rel == "HasProperty":
        return (f"[[{S}]] is [[{words(e)}]]", f"[[{S}]] can be [[{words(e)}]]",
                f"[[{S}]] is [[{words(e)}]]")[v]
    if rel == "CapableOf":
        return (f"[[{S}]] can [[{words(e)}]]", f"An activity [[{S}]] can do is [[{words(e)}]]",
                f"[[{S}]] can [[{words(e)}]]")[v]
    if rel == "ReceivesAction":
        return f"[[{S}]] can be [[{words(e)}]]"
    if rel == "HasA":
        E = noun_phrase(e, key + "e")
        return (f"[[{S}]] has [[{E}]]", f"[[{S}]] has [[{E}]]", f"[[{S}]] contains [[{E}]]")[v]
    if rel == "PartOf":
        E = noun_phrase(e, key + "e")
        return f"[[{S}]] is part of [[{E}]]"
    if rel == "Desires":
        if e in DESIRE_NOUNS:
            return f"[[{S}]] wants [[{noun_phrase(e, key + 'e')}]]"
        return f"[[{S}]] wants to [[{words(e)}]]"
    if rel == "NotDesires":
        return f"[[{S}]] does not want to [[{words(e)}]]"
    if rel == "CreatedBy":
        return f"[[{S}]] is created by [[{noun_phrase(e, key + 'e')}]]"
    if rel == "Causes":
        return (f"The effect of [[{words(s)}]] is [[{words(e)}]]",
                f"[[{words(s)}]] causes [[{words(e)}]]",
                f"Sometimes [[{words(s)}]] causes [[{words(e)}]]")[v]
    if rel == "HasPrerequisite":
        if e in VERB_PREREQUISITES:
            return f"If you want to [[{words(s)}]] then you should [[{words(e)}]]"
        return f"If you want to [[{words(s)}]] then you should have [[{noun_phrase(e, key + 'e')}]]"
    if rel == "HasSubevent":
        return f"One of the things you do when you [[{words(s)}]] is [[{words(e)}]]"
    if rel == "MotivatedByGoal":
        return f"You would [[{words(s)}]] because you want to [[{words(e)}]]"
    if rel == "LocatedNear":
        return f"[[{S}]] is typically near [[{noun_phrase(e, key + 'e', place=True)}]]"
    if rel == "NotCapableOf":
        return f"[[{S}]] can not [[{words(e)}]]"
    if rel == "NotUsedFor":
        return f"[[{S}]] is not used to [[{words(e)}]]"
    if rel == "NotHasProperty":
        return f"[[{S}]] is not [[{words(e)}]]"
    if rel == "RelatedTo":
        return f"[[{words(s)}]] is related to [[{words(e)}]]"
    return None


_MARKED = re.compile(r"\[\[(.*?)\]\]")


def standardize(text: str) -> str:
    """ConceptNet's English text -> term (tokens, drop a/an/the, drop a leading 'to')."""
    tokens = re.findall(r"\w+(?:['.]\w+)*", unicodedata.normalize("NFKC", text).casefold())
    kept = [t for t in tokens if t not in {"a", "an", "the"}]
    if kept and kept[0] == "to":
        kept = kept[1:]
    return "_".join(kept or tokens)


def english_info(rel: str, s: str, e: str) -> dict:
    key = f"{rel}|{s}|{e}"
    h = stable("ds", key)
    if rel in LEXICAL or (rel == "RelatedTo" and h % 2 == 0):
        return {"dataset": WIKT_EN, "license": "cc:by-sa/4.0",
                "sources": [{"contributor": "/s/resource/wiktionary/en",
                             "process": "/s/process/wikiparsec/2"}],
                "weight": 1.0}
    text = surface(rel, s, e, key)
    assert text is not None, rel
    marked = _MARKED.findall(text)
    first_is_end = text.startswith("*")
    surf_start, surf_end = (marked[1], marked[0]) if first_is_end else (marked[0], marked[1])
    assert standardize(surf_start) == s and standardize(surf_end) == e, (text, s, e)
    info = {"surfaceEnd": surf_end, "surfaceStart": surf_start, "surfaceText": text}
    if rel == "RelatedTo" or (rel not in NEGATIVE and h % 100 < 7):
        info.update(dataset=VERBOSITY, license="cc:by/4.0",
                    sources=[{"contributor": "/s/resource/verbosity"}],
                    weight=(0.5, 0.75, 1.0, 1.0)[stable("vw", key) % 4])
        return info
    roll = stable("n", key) % 100
    n = 1 if roll < 74 or rel in NEGATIVE else 2 if roll < 89 else 3 if roll < 95 else 4 if roll < 98 else 6
    pool_start = stable("who", key) % len(CONTRIBUTORS)
    sources = []
    for i in range(n):
        who = CONTRIBUTORS[(pool_start + 7 * i) % len(CONTRIBUTORS)]
        act = ACTIVITIES[stable("act", key, str(i)) % len(ACTIVITIES)] if i else ACTIVITIES[0]
        sources.append({"activity": act, "contributor": f"/s/contributor/omcs/{who}"})
    info.update(dataset=CN4, license="cc:by/4.0", sources=sources, weight=merged_weight(n))
    return info


def quirk_info(dataset: str) -> dict:
    if dataset == "/d/wordnet/3.1":
        return {"dataset": dataset, "license": "cc:by/4.0",
                "sources": [{"contributor": "/s/resource/wordnet/rdf/3.1"}], "weight": 2.0}
    if dataset == "/d/dbpedia/en":
        return {"dataset": dataset, "license": "cc:by-sa/4.0",
                "sources": [{"contributor": "/s/resource/dbpedia/2015/en"}], "weight": 0.5}
    lang = dataset.rsplit("/", 1)[-1]
    return {"dataset": dataset, "license": "cc:by-sa/4.0",
            "sources": [{"contributor": f"/s/resource/wiktionary/{lang}",
                         "process": "/s/process/wikiparsec/2"}], "weight": 1.0}


# ---------------------------------------------------------------------------------------------
# 5. Build the assertion rows
# ---------------------------------------------------------------------------------------------
def split_items(field: str) -> list[str]:
    field = field.strip()
    return [] if field in ("", "-") else [x.strip() for x in field.split(",") if x.strip()]


def english_triples() -> list[tuple[str, str, str]]:
    triples: list[tuple[str, str, str]] = []
    for line in OBJECTS.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = [c.strip() for c in line.split("|")]
        assert len(cols) == 1 + len(OBJECT_COLUMNS), line
        name = cols[0]
        for rel, field in zip(OBJECT_COLUMNS, cols[1:]):
            for item in split_items(field):
                triples.append((rel, name, item))
    for line in FACTS.strip().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        head, _, tail = line.partition(":")
        rel, start = head.split()
        for item in split_items(tail):
            triples.append((rel, start, item))
    return triples


def build_rows() -> tuple[list[str], int]:
    rows: dict[str, str] = {}
    seen: set[tuple[str, str, str]] = set()
    dropped = 0
    term_re = re.compile(r"^[a-z0-9']+(?:_[a-z0-9']+)*$")
    for rel, s, e in english_triples():
        assert term_re.match(s) and term_re.match(e), (rel, s, e)
        assert s != e, f"self-loop {rel} {s}"
        if (rel, s, e) in seen:
            dropped += 1
            continue
        seen.add((rel, s, e))
        r, cs, ce = f"/r/{rel}", f"/c/en/{s}", f"/c/en/{e}"
        info = english_info(rel, s, e)
        uri = assertion_uri(r, cs, ce)
        rows[uri] = "\t".join([uri, r, cs, ce, json.dumps(info, ensure_ascii=False, sort_keys=True)])
    for r, cs, ce, dataset in QUIRK_ROWS:
        uri = assertion_uri(r, cs, ce)
        assert uri not in rows, uri
        rows[uri] = "\t".join([uri, r, cs, ce, json.dumps(quirk_info(dataset), ensure_ascii=False,
                                                          sort_keys=True)])
    for r, cs, ce, edition in FOREIGN_ROWS:
        assert unicodedata.is_normalized("NFC", cs + ce)
        uri = assertion_uri(r, cs, ce)
        assert uri not in rows, uri
        rows[uri] = "\t".join([uri, r, cs, ce, json.dumps(quirk_info(f"/d/wiktionary/{edition}"),
                                                          ensure_ascii=False, sort_keys=True)])
    return [rows[k] for k in sorted(rows)], dropped


def write_gzip(path: Path, lines: list[str]) -> None:
    payload = "".join(line + "\n" for line in lines).encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(payload)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())


# ---------------------------------------------------------------------------------------------
# 6. Visual Genome scenes
# ---------------------------------------------------------------------------------------------
# Synset per object name; the lemma always equals the ConceptNet term.
SYNSET_SENSE = {
    "table": 2, "plate": 4, "mouse": 4, "glass": 2, "kite": 3, "helmet": 2, "lamp": 2,
    "banana": 2, "cake": 3, "bag": 4, "sign": 2, "monitor": 4, "orange": 1, "window": 1,
    "pole": 1, "grass": 1, "sky": 1, "water": 6, "street": 1, "flower": 1, "donut": 2,
}
PREDICATE_SYNSETS = {
    "ON": ["along.r.01"], "on": ["along.r.01"], "has": ["have.v.01"], "near": ["near.r.01"],
    "next to": ["next.r.01"], "in": ["in.r.01"], "holding": ["have.v.01"],
    "wearing": ["wear.v.01"], "sitting on": ["sit.v.01"], "parked on": ["park.v.02"],
    "of": [], "behind": ["behind.r.01"], "above": ["above.r.01"], "under": ["under.r.01"],
    "standing on": ["stand.v.01"], "riding": ["ride.v.01"], "in front of": ["in_front.r.01"],
}

# Each scene: key, width, height, coco_id, flickr_id, objects, relationships.
# object: (name, x, y, w, h, attributes or None (no inner list), flags)
#   flags: "nosyn" -> empty synsets; "merged" -> has merged_object_ids
# relationship: (subject index, predicate, object index); index -1 means the dangling object.
SCENES = [
    ("kitchen", 800, 600, 391895, None, [
        ("refrigerator", 20, 40, 200, 540, ["white", "tall"], ""),
        ("oven", 250, 300, 220, 290, ["black", "hot"], ""),
        ("sink", 500, 300, 200, 80, ["silver", "metal"], ""),
        ("cutting_board", 300, 250, 150, 40, ["wooden"], "nosyn"),
        ("knife", 320, 240, 110, 20, ["sharp", "silver"], ""),
        ("banana", 560, 220, 90, 40, ["yellow", "ripe"], ""),
        ("bowl", 540, 230, 140, 70, ["white"], ""),
        ("window", 480, 40, 260, 200, ["clear"], ""),
    ], [(4, "ON", 3), (5, "in", 6), (6, "next to", 2), (7, "above", 2), (1, "next to", 0)]),
    ("dining table", 640, 480, 522418, 4913278132, [
        ("table", 0, 200, 640, 280, ["wooden", "brown"], ""),
        ("plate", 180, 260, 220, 120, ["white", "round"], "merged"),
        ("pizza", 200, 270, 180, 90, ["hot", "cheesy"], ""),
        ("fork", 420, 280, 30, 110, ["silver", "metal"], ""),
        ("knife", 460, 280, 25, 120, ["silver"], ""),
        ("glass", 520, 180, 60, 110, ["clear", "transparent"], ""),
        ("bottle", 580, 120, 50, 170, ["green", "glass"], ""),
        ("napkin", 60, 300, 100, 80, ["white", "folded"], ""),
        ("chair", 0, 150, 120, 330, ["wooden"], ""),
    ], [(2, "ON", 1), (1, "ON", 0), (3, "next to", 1), (5, "ON", 0), (6, "near", 5),
        (8, "near", 0), (4, "next to", 3)]),
    ("breakfast", 640, 427, None, 5264318830, [
        ("table", 0, 180, 640, 247, ["wooden"], ""),
        ("mug", 400, 120, 110, 120, ["white", "ceramic"], ""),
        ("coffee", 415, 125, 80, 25, ["hot", "brown"], ""),
        ("donut", 150, 200, 120, 90, ["sweet", "glazed"], ""),
        ("plate", 120, 210, 190, 110, ["white"], ""),
        ("spoon", 520, 200, 30, 90, ["silver"], ""),
        ("newspaper", 20, 120, 160, 120, ["folded"], "nosyn"),
    ], [(2, "in", 1), (3, "ON", 4), (5, "next to", 1), (6, "ON", 0), (1, "ON", 0),
        (3, "ON", -1)]),
    ("office", 1024, 768, 184613, None, [
        ("desk", 0, 380, 1024, 388, ["wooden", "brown"], ""),
        ("laptop", 300, 250, 320, 200, ["silver", "open"], ""),
        ("keyboard", 640, 420, 300, 80, ["black"], ""),
        ("mouse", 960, 430, 50, 60, ["black", "small"], ""),
        ("monitor", 620, 120, 330, 260, ["black", "flat"], ""),
        ("chair", 380, 500, 260, 268, ["black"], ""),
        ("lamp", 40, 150, 140, 240, ["white"], ""),
        ("cup", 200, 330, 70, 80, ["white"], ""),
        ("book", 60, 400, 160, 60, ["red", "closed"], ""),
        ("phone", 250, 440, 50, 90, ["black", "small"], "nosyn"),
    ], [(1, "ON", 0), (3, "next to", 2), (4, "ON", 0), (2, "ON", 0), (6, "ON", 0),
        (7, "near", 1), (8, "ON", 0), (9, "next to", 1), (5, "near", 0)]),
    ("living room", 800, 533, None, None, [
        ("couch", 40, 250, 460, 220, ["gray", "soft"], ""),
        ("pillow", 80, 260, 110, 90, ["red", "soft"], ""),
        ("television", 560, 120, 220, 150, ["black", "flat"], "nosyn"),
        ("remote_control", 380, 420, 60, 25, ["black"], ""),
        ("lamp", 500, 200, 60, 200, ["white"], ""),
        ("rug", 100, 440, 600, 93, ["colorful"], ""),
        ("vase", 300, 360, 50, 80, ["glass", "blue"], ""),
        ("flower", 290, 300, 70, 70, ["pink", "colorful"], ""),
        ("table", 260, 410, 220, 70, ["wooden"], ""),
    ], [(1, "ON", 0), (3, "ON", 8), (7, "in", 6), (6, "ON", 8), (5, "under", 8),
        (4, "next to", 0), (2, "near", 0)]),
    ("bedroom", 800, 600, 98304, 3382117741, [
        ("bed", 100, 280, 560, 300, ["large", "white"], ""),
        ("pillow", 150, 280, 150, 80, ["white", "fluffy"], ""),
        ("blanket", 120, 360, 520, 200, ["blue", "soft"], ""),
        ("lamp", 680, 200, 80, 170, ["white"], ""),
        ("clock", 690, 380, 60, 50, ["small", "round"], ""),
        ("teddy_bear", 330, 300, 90, 110, ["brown", "furry"], ""),
        ("window", 300, 20, 260, 220, ["clear"], ""),
        ("curtain", 270, 10, 320, 260, ["white", "long"], ""),
    ], [(1, "ON", 0), (2, "ON", 0), (5, "sitting on", 0), (7, "on", 6), (4, "near", 3),
        (3, "next to", 0)]),
    ("bathroom", 600, 800, 443303, None, [
        ("toilet", 360, 470, 190, 300, ["white", "clean"], ""),
        ("sink", 40, 430, 260, 110, ["white"], ""),
        ("mirror", 60, 80, 230, 300, ["reflective"], ""),
        ("towel", 320, 260, 120, 180, ["white", "soft"], ""),
        ("toothbrush", 230, 390, 20, 70, ["blue"], ""),
        ("cup", 220, 420, 40, 50, ["white"], ""),
        ("soap", 60, 420, 50, 25, ["white"], ""),
        ("bathtub", 0, 600, 330, 200, ["white", "large"], ""),
    ], [(2, "above", 1), (4, "in", 5), (6, "ON", 1), (3, "near", 7), (0, "next to", 1)]),
    ("park with dog", 800, 600, 262148, 2602147319, [
        ("man", 420, 120, 160, 420, ["young", "tall"], ""),
        ("dog", 180, 360, 180, 140, ["brown", "furry"], ""),
        ("frisbee", 300, 300, 70, 30, ["red", "round"], ""),
        ("grass", 0, 420, 800, 180, None, ""),
        ("tree", 600, 0, 200, 450, ["tall", "green"], ""),
        ("bench", 20, 300, 200, 90, ["wooden"], ""),
        ("shirt", 440, 180, 120, 130, ["blue"], ""),
    ], [(0, "wearing", 6), (1, "ON", 3), (0, "holding", 2), (4, "behind", 5), (5, "ON", 3),
        (1, "near", 0)]),
    ("park bench", 800, 533, None, 7215593046, [
        ("woman", 300, 150, 140, 330, ["young"], ""),
        ("bench", 200, 300, 360, 140, ["wooden", "brown"], ""),
        ("bird", 600, 380, 40, 30, ["small", "black"], ""),
        ("tree", 0, 0, 260, 400, ["green", "leafy"], ""),
        ("bicycle", 580, 260, 200, 160, ["red"], ""),
        ("grass", 0, 420, 800, 113, ["green"], ""),
        ("jacket", 310, 200, 120, 140, ["green", "warm"], ""),
    ], [(0, "sitting on", 1), (0, "wearing", 6), (2, "near", 1), (4, "next to", 1),
        (3, "behind", 1), (1, "ON", 5)]),
    ("city street", 1024, 683, 57870, None, [
        ("bus", 300, 220, 420, 300, ["red", "large"], ""),
        ("car", 40, 380, 220, 140, ["white"], ""),
        ("traffic_light", 820, 60, 60, 160, ["red", "bright"], ""),
        ("building", 0, 0, 1024, 300, ["tall", "brick"], ""),
        ("sidewalk", 700, 500, 324, 183, ["gray"], ""),
        ("person", 800, 380, 70, 200, ["walking"], ""),
        ("street_sign", 900, 240, 90, 40, ["green"], "nosyn"),
        ("pole", 840, 60, 30, 480, ["metal", "tall"], ""),
        ("street", 0, 450, 1024, 233, ["busy"], ""),
    ], [(0, "ON", 8), (1, "behind", 0), (2, "ON", 7), (6, "ON", 7), (5, "ON", 4),
        (3, "near", 8)]),
    ("street corner", 640, 480, 139, None, [
        ("fire_hydrant", 280, 260, 80, 140, ["red", "metal"], "nosyn"),
        ("sidewalk", 0, 340, 640, 140, ["gray", "concrete"], ""),
        ("stop_sign", 480, 40, 110, 110, ["red", "octagonal"], ""),
        ("car", 20, 280, 200, 110, ["blue"], ""),
        ("tree", 500, 0, 140, 330, ["green"], ""),
        ("building", 0, 0, 480, 280, ["brick", "red"], ""),
        ("window", 120, 60, 80, 100, ["glass"], ""),
        ("street", 0, 380, 640, 100, ["paved"], ""),
    ], [(0, "ON", 1), (3, "parked on", 7), (6, "of", 5), (5, "has", 6), (4, "near", 5),
        (2, "near", 0)]),
    ("motorcycle", 800, 600, None, 3014851222, [
        ("man", 300, 100, 200, 420, ["adult"], ""),
        ("motorcycle", 220, 280, 380, 260, ["black", "shiny"], ""),
        ("helmet", 360, 100, 90, 80, ["black", "hard"], ""),
        ("jacket", 320, 180, 160, 170, ["black", "leather"], ""),
        ("street", 0, 480, 800, 120, ["gray"], ""),
        ("car", 620, 300, 180, 120, ["silver"], ""),
    ], [(0, "sitting on", 1), (0, "wearing", 2), (0, "wearing", 3), (1, "ON", 4),
        (5, "behind", 1)]),
    ("beach", 1024, 768, 581781, 4500216417, [
        ("surfboard", 100, 420, 320, 80, ["white", "long"], ""),
        ("ocean", 0, 200, 1024, 260, ["blue", "calm"], ""),
        ("sand", 0, 460, 1024, 308, ["sandy", "warm"], ""),
        ("umbrella", 620, 250, 260, 230, ["colorful", "open"], ""),
        ("woman", 700, 430, 120, 200, ["young"], ""),
        ("man", 140, 300, 110, 330, ["wet"], ""),
        ("kite", 450, 40, 100, 90, ["colorful"], "nosyn"),
        ("sky", 0, 0, 1024, 200, ["blue", "sunny"], ""),
        ("sunglasses", 730, 450, 50, 20, ["dark"], ""),
    ], [(0, "ON", 2), (3, "in", 2), (6, "in", 7), (5, "holding", 0), (4, "wearing", 8),
        (4, "sitting on", 2), (2, "next to", 1)]),
    ("harbor", 800, 600, None, None, [
        ("boat", 200, 300, 320, 160, ["white", "small"], ""),
        ("water", 0, 330, 800, 270, ["blue", "calm"], ""),
        ("sky", 0, 0, 800, 300, ["cloudy"], ""),
        ("cloud", 100, 40, 300, 100, ["white", "fluffy"], ""),
        ("bird", 560, 200, 50, 30, ["white"], ""),
        ("building", 600, 150, 200, 180, ["white"], ""),
    ], [(0, "in", 1), (3, "in", 2), (4, "above", 1), (5, "near", 1)]),
    ("farm", 800, 600, 416256, 2449063591, [
        ("horse", 120, 250, 220, 200, ["brown", "large"], ""),
        ("cow", 420, 300, 200, 150, ["black", "white"], ""),
        ("fence", 0, 350, 800, 90, ["wooden"], ""),
        ("grass", 0, 420, 800, 180, ["green"], ""),
        ("barn", 500, 60, 280, 240, ["red", "large"], ""),
        ("tree", 0, 0, 180, 330, ["green", "tall"], ""),
        ("sheep", 640, 420, 110, 80, ["white", "woolly"], ""),
    ], [(0, "standing on", 3), (1, "near", 2), (4, "behind", 2), (6, "ON", 3), (5, "near", 4)]),
    ("savanna", 1024, 768, None, 5950117713, [
        ("giraffe", 600, 60, 200, 560, ["tall", "spotted"], ""),
        ("elephant", 80, 280, 360, 300, ["gray", "large"], ""),
        ("zebra", 450, 400, 160, 150, ["striped", "black", "white"], ""),
        ("tree", 760, 40, 260, 420, ["green", "tall"], ""),
        ("grass", 0, 560, 1024, 208, ["green", "dry"], ""),
        ("sky", 0, 0, 1024, 300, ["blue"], ""),
    ], [(0, "next to", 3), (1, "ON", 4), (2, "near", 1), (5, "above", 3)]),
    ("tennis", 640, 480, 375278, None, [
        ("man", 220, 40, 180, 420, ["athletic"], ""),
        ("tennis_racket", 380, 160, 120, 110, ["black", "light"], ""),
        ("ball", 520, 120, 20, 20, ["yellow", "round"], ""),
        ("shirt", 240, 110, 130, 140, ["white"], ""),
        ("hat", 270, 40, 70, 40, ["white"], ""),
        ("shoe", 250, 430, 60, 35, ["white"], ""),
        ("fence", 0, 0, 640, 300, ["green", "metal"], ""),
    ], [(0, "holding", 1), (0, "wearing", 4), (0, "wearing", 3), (0, "wearing", 5),
        (2, "near", 1), (6, "behind", 0)]),
    ("baseball", 800, 533, 229948, 8143928017, [
        ("man", 300, 60, 170, 420, ["adult"], ""),
        ("baseball_bat", 420, 20, 40, 200, ["wooden", "brown"], ""),
        ("helmet", 330, 60, 80, 70, ["blue", "hard"], ""),
        ("baseball_glove", 620, 330, 70, 60, ["brown", "leather"], ""),
        ("grass", 0, 430, 800, 103, ["green"], ""),
        ("baseball", 560, 140, 15, 15, ["white", "round"], ""),
        ("man", 560, 230, 180, 280, ["crouching"], ""),
    ], [(0, "holding", 1), (0, "wearing", 2), (6, "wearing", 3), (5, "near", 1), (0, "ON", 4)]),
    ("ski slope", 800, 600, 480023, None, [
        ("person", 340, 140, 140, 320, ["young"], ""),
        ("skis", 300, 440, 240, 50, ["long", "red"], ""),
        ("snow", 0, 380, 800, 220, ["white", "cold"], ""),
        ("mountain", 0, 40, 800, 360, ["snowy", "high"], ""),
        ("jacket", 350, 190, 120, 150, ["red", "warm"], ""),
        ("glove", 460, 280, 35, 40, ["black"], ""),
        ("tree", 640, 160, 120, 260, ["green"], ""),
    ], [(0, "ON", 1), (1, "ON", 2), (0, "wearing", 4), (0, "wearing", 5), (2, "ON", 3),
        (6, "ON", 3)]),
    ("train station", 1024, 683, None, 6024190883, [
        ("train", 80, 200, 700, 340, ["long", "yellow"], ""),
        ("building", 760, 40, 264, 400, ["old", "brick"], ""),
        ("sky", 0, 0, 760, 200, None, ""),
        ("pole", 720, 80, 24, 500, ["metal"], ""),
        ("person", 850, 400, 80, 240, ["standing"], ""),
        ("bag", 880, 500, 60, 70, ["black"], "merged"),
        ("sign", 700, 100, 90, 50, ["white"], ""),
    ], [(4, "holding", 5), (0, "near", 1), (6, "ON", 3), (2, "above", 0)]),
    ("airport", 1024, 683, 8021, None, [
        ("airplane", 100, 160, 760, 300, ["white", "large"], ""),
        ("truck", 700, 420, 230, 150, ["yellow"], ""),
        ("sky", 0, 0, 1024, 260, ["blue"], ""),
        ("person", 640, 460, 50, 160, ["standing"], ""),
        ("cloud", 200, 30, 280, 90, ["white"], ""),
        ("building", 860, 160, 164, 240, ["gray"], ""),
    ], [(1, "near", 0), (0, "under", 2), (4, "in", 2), (3, "next to", 1), (5, "behind", 0)]),
    ("cat at window", 640, 480, None, 5741130297, [
        ("cat", 220, 200, 200, 170, ["orange", "furry"], ""),
        ("window", 120, 0, 400, 300, ["open"], ""),
        ("pillow", 200, 330, 240, 100, ["white"], ""),
        ("curtain", 520, 0, 120, 420, ["white"], ""),
        ("plant", 40, 150, 90, 180, ["green", "leafy"], ""),
        ("couch", 0, 300, 640, 180, ["brown", "leather"], ""),
    ], [(0, "sitting on", 2), (2, "ON", 5), (4, "near", 1), (3, "of", 1), (0, "near", 1)]),
    ("fruit stand", 800, 600, 311295, None, [
        ("apple", 120, 300, 60, 60, ["red", "shiny"], ""),
        ("orange", 200, 310, 60, 60, ["round"], ""),
        ("banana", 330, 280, 150, 60, ["yellow"], ""),
        ("basket", 80, 280, 260, 160, ["wicker", "brown"], "merged"),
        ("lemon", 520, 330, 50, 40, ["yellow", "sour"], ""),
        ("tomato", 600, 330, 60, 55, ["red", "ripe"], ""),
        ("sign", 200, 60, 300, 120, ["white"], ""),
        ("woman", 620, 80, 150, 420, ["smiling"], ""),
    ], [(0, "in", 3), (1, "in", 3), (2, "next to", 3), (6, "above", 3), (7, "near", 6),
        (5, "next to", 4)]),
    ("birthday party", 800, 600, 145020, 3918432207, [
        ("cake", 260, 280, 260, 150, ["white", "sweet"], ""),
        ("candle", 370, 220, 20, 70, ["lit", "pink"], ""),
        ("balloon", 560, 20, 120, 160, ["red", "round"], ""),
        ("table", 0, 400, 800, 200, ["white"], ""),
        ("child", 80, 160, 160, 300, ["young", "happy"], ""),
        ("plate", 540, 430, 140, 60, ["paper", "white"], ""),
        ("knife", 180, 420, 110, 20, ["silver"], ""),
        ("girl", 620, 170, 150, 300, ["young", "smiling"], ""),
    ], [(1, "ON", 0), (0, "ON", 3), (5, "next to", 0), (2, "above", 3), (4, "near", 0),
        (7, "holding", 2)]),
]

DANGLING = ("napkin", 40, 250, 130, 90)  # subject/object of the breakfast scene's last relation
EXTRA_ATTRIBUTE_TERMS = {"open", "closed", "happy", "smiling", "standing", "walking", "crouching",
                         "athletic", "old", "calm", "dry", "clean", "folded", "lit", "glazed"}


def synset_for(name: str) -> str:
    return f"{name}.n.{SYNSET_SENSE.get(name, 1):02d}"


def build_visual_genome(concepts: set[str]) -> dict[str, list]:
    image_data, objects, attributes, relationships, scene_graphs = [], [], [], [], []
    for i, (title, width, height, coco, flickr, objs, rels) in enumerate(SCENES):
        image_id = 2410001 + i
        image_data.append({"image_id": image_id, "width": width, "height": height,
                           "coco_id": coco, "flickr_id": flickr,
                           "url": f"https://cs.stanford.edu/people/rak248/VG_100K/{image_id}.jpg"})
        assert 4 <= len(objs) <= 10, title
        obj_entries, attr_entries = [], []
        for k, (name, x, y, w, h, attrs, flags) in enumerate(objs):
            assert name in concepts, f"VG object {name} is not a ConceptNet concept"
            assert 0 <= x and 0 <= y and x + w <= width and y + h <= height, (title, name)
            oid = 3100000 + 100 * i + k
            base = {"object_id": oid, "x": x, "y": y, "w": w, "h": h,
                    "names": [words(name)],
                    "synsets": [] if "nosyn" in flags else [synset_for(name)]}
            obj = dict(base, merged_object_ids=[oid + 50] if "merged" in flags else [])
            obj_entries.append(obj)
            attr = dict(base)
            if attrs is not None:
                for a in attrs:
                    assert a in concepts or a in EXTRA_ATTRIBUTE_TERMS, (title, a)
                attr["attributes"] = list(attrs)
            attr_entries.append(attr)
        rel_entries, sg_rels = [], []
        for k, (si, pred, oi) in enumerate(rels):
            rid = 4200000 + 100 * i + k
            ends = []
            for role, idx in (("subject", si), ("object", oi)):
                if idx == -1:
                    name, x, y, w, h = DANGLING
                    assert name in concepts
                    end = {"object_id": 3100000 + 100 * i + 99, "x": x, "y": y, "w": w, "h": h,
                           "synsets": [synset_for(name)], "merged_object_ids": []}
                else:
                    o = obj_entries[idx]
                    end = {key: o[key] for key in ("object_id", "x", "y", "w", "h", "synsets",
                                                   "merged_object_ids")}
                    name = objs[idx][0]
                style = rid % 3  # 0: both "name"; 1: both "names"; 2: subject name, object names
                if style == 0 or (style == 2 and role == "subject"):
                    end["name"] = words(name)
                else:
                    end["names"] = [words(name)]
                ends.append(end)
            rel_entries.append({"relationship_id": rid, "predicate": pred,
                                "synsets": PREDICATE_SYNSETS[pred],
                                "subject": ends[0], "object": ends[1]})
            if -1 not in (si, oi):
                sg_rels.append({"relationship_id": rid, "predicate": pred,
                                "synsets": PREDICATE_SYNSETS[pred],
                                "subject_id": ends[0]["object_id"],
                                "object_id": ends[1]["object_id"]})
        objects.append({"image_id": image_id, "objects": obj_entries})
        attributes.append({"image_id": image_id, "attributes": attr_entries})
        relationships.append({"image_id": image_id, "relationships": rel_entries})
        sg_objs = []
        for o, a in zip(obj_entries, attr_entries):
            sg = dict(o)
            if "attributes" in a:
                sg["attributes"] = a["attributes"]
            sg_objs.append(sg)
        scene_graphs.append({"image_id": image_id, "objects": sg_objs, "relationships": sg_rels})
    return {"image_data": image_data, "objects": objects, "attributes": attributes,
            "relationships": relationships, "scene_graphs": scene_graphs}


# ---------------------------------------------------------------------------------------------
# 7. Main: write, read back, check, report
# ---------------------------------------------------------------------------------------------
def main() -> int:
    lines, dropped = build_rows()
    write_gzip(CN_PATH, lines)

    # Read the file back and check it.
    with gzip.open(CN_PATH, "rt", encoding="utf-8") as fh:
        back = fh.read().split("\n")
    assert back[-1] == "" and back[:-1] == lines
    rel_hist: Counter[str] = Counter()
    en_concepts: set[str] = set()
    en_en = 0
    uris: set[str] = set()
    for line in back[:-1]:
        cols = line.split("\t")
        assert len(cols) == 5, line
        info = json.loads(cols[4])
        assert {"dataset", "license", "sources", "weight"} <= set(info), line
        assert cols[0] not in uris
        uris.add(cols[0])
        assert cols[0] == assertion_uri(cols[1], cols[2], cols[3])
        rel_hist[cols[1]] += 1
        if cols[2].startswith("/c/en/") and cols[3].startswith("/c/en/"):
            en_en += 1
            for c in (cols[2], cols[3]):
                en_concepts.add("/".join(c.split("/")[:4]))
    concepts = {c.split("/")[3] for c in en_concepts}
    plain = sum(1 for line in lines
                if all(len(c.split("/")) == 4 for c in line.split("\t")[2:4])
                and line.split("\t")[2].startswith("/c/en/") and line.split("\t")[3].startswith("/c/en/"))

    vg = build_visual_genome(concepts)
    VG_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in vg.items():
        (VG_DIR / f"{name}.json").write_text(json.dumps(data, sort_keys=True) + "\n",
                                             encoding="utf-8")
    n_obj = sum(len(e["objects"]) for e in vg["objects"])
    n_rel = sum(len(e["relationships"]) for e in vg["relationships"])

    print(f"wrote {CN_PATH.relative_to(ROOT)}: {len(lines)} rows "
          f"({en_en} English-English, {len(lines) - en_en} other; "
          f"{len(lines) - plain} quirk rows = {100 * (len(lines) - plain) / len(lines):.1f}%; "
          f"{dropped} duplicate table entries skipped)")
    print(f"distinct English concepts (term level, in English-English rows): {len(concepts)}")
    print("relations, top 15:")
    for rel, n in rel_hist.most_common(15):
        print(f"  {rel:<22} {n}")
    print(f"wrote {VG_DIR.relative_to(ROOT)}/: {len(vg['image_data'])} images, {n_obj} objects, "
          f"{n_rel} relationships")
    assert len(concepts) >= 320 and en_en >= 2200
    return 0


if __name__ == "__main__":
    sys.exit(main())
